"""The spike detector: upper-tail probabilities of bucket counts under a negative-binomial
baseline. Pure: arrays in, arrays out; no database, no clock.

The model, for one series (many series are processed at once, row-wise):

* **Expected count** ``mu`` of a bucket = its time-of-day slot's rate x a day-of-week factor.
  The slot rate is a gamma-Poisson posterior mean over the trailing ``history`` (14 days):
  slot rates are a priori ``Gamma(alpha, alpha / level)`` around the trailing level (the mean
  count per bucket over the window), so with few observations the profile shrinks toward
  flat and with many it follows the data: ``rate = (alpha + S_slot) / (alpha / level + N_slot)``.
  Slots are hours of the day (sub-hour buckets share their hour); buckets of a day or longer
  have no time-of-day profile. The day-of-week factor is shrunk the same way (prior
  ``beta``) over the trailing four weeks and is only used once three same weekdays are known.
  Sub-daily buckets also follow **the day's level**: ``mu`` is scaled by how the ``recent``
  three hours before the bucket's hour came out against their own ``mu`` (every bucket
  read, bursts clipped, an outage's zeros skipped), a gamma-Poisson posterior shrunk
  toward 1 with ``recent_prior`` stories (``Baseline._recent_level``): news days are not
  ordinary days.
* **Spread**: the count is negative binomial with mean ``mu`` and variance
  ``mu (1 + delta) + phi mu^2 + mu^2 v``. ``delta`` (clumps: a desk filing a batch, a
  cascade of posts; variance proportional to the mean) and ``phi`` (the rate itself
  wandering; variance proportional to the mean squared) are re-estimated by the method of
  moments on the trailing residuals (the excess ``(y - mu)^2 - y`` regressed on ``mu`` and
  ``mu^2``, each winsorised at four standard deviations: the NB is the body, and a big
  story's unflagged shoulders must not widen it), shrunk toward priors (some clumping,
  some wander) and floored at 0. ``v`` is the posterior uncertainty of the rate itself
  (``1 / (alpha + S_slot) + ...``, scaled by the dispersion), so a short history gives a
  wide predictive and does not fire on everything (the gamma-Poisson posterior
  predictive, moment-matched to one NB).
* **Tail probability** ``P(X >= observed)`` (``betainc``), then **calibrated** on the
  series' own history (``_Baseline.calibrate``): real counts have heavier tails than any
  NB, so how often this series produces a bucket that surprising is fitted on its trailing
  peaks (a generalised Pareto over a threshold) and the tail is never below the model's.
  A bucket is *anomalous* when the calibrated tail is below ``threshold`` with at least
  ``min_count``; a *spike* also needs ``min_sources`` distinct sources (when sources are
  given). Nothing is judged before ``warmup`` buckets of history exist.
* **Sub-hour buckets** are also judged as the hour ending at each bucket (its NB: the
  summed means, and the summed variances times how much more the trailing hours really
  varied, plus the covariance of the rate's uncertainty, which the hour's buckets share),
  each test at half the threshold: a burst spread thin over an hour is news even when no
  single bucket reaches ``min_count``. That test is fitted (its variance inflation and its
  calibration) only on hours holding no flagged or held bucket, and it never flags an
  empty bucket.
* **Flagged buckets stay out of the baseline.** That makes each bucket's baseline depend on
  earlier verdicts. Instead of a Python loop over buckets, the detector iterates vectorised
  passes to the fixed point: pass k recomputes every baseline with the flags of pass k-1.
  The fixed point is exactly the sequential answer (a bucket's baseline only reads earlier
  buckets); real series converge in 2-7 passes (capped at ``max_passes``). So that a
  lasting level shift is eventually accepted as the new normal, flags are ignored for a
  window in which more than half of the buckets are flagged. A story's aftermath stays
  out too: the buckets right after a flag that are still peaks (a tail below
  ``10**-peak_score``), for at most ``AFTERMATH`` after the last flag. Counted as usual,
  the fading hours of each story raised the level and the spread until the next story
  looked ordinary.

The baseline of a bucket uses only whole periods (days, for sub-daily buckets) before the
bucket's own, so all buckets of one day share one baseline: cheap, and a burst earlier in
the day cannot mask a later one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from alerts.baseline import Baseline, Bools, Floats, SpikeParams, layout_for
from alerts.calibration import score
from clock.moments import epoch_seconds

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpikeResult:
    """Per bucket, the same shape as the counts given."""

    counts: Floats
    expected: Floats
    tail_probability: Floats
    """``P(X >= count)`` under the baseline; 1.0 where not judged."""
    size: Floats
    """Negative-binomial size (``inf`` would be Poisson); the variance is ``mu + mu^2/size``."""
    judged: Bools
    """Enough history to judge."""
    anomalous: Bools
    """Tail below the threshold and at least ``min_count``: left out of the baseline."""
    spike: Bools
    """Anomalous and at least ``min_sources`` distinct sources (when sources were given)."""
    passes: int

    @property
    def score(self) -> Floats:
        """``-log10(tail probability)``: 3 at the default threshold, monotone in surprise."""
        return score(self.tail_probability)


def tail_probability(count: ArrayLike, expected: ArrayLike, size: ArrayLike) -> Floats:
    """``P(X >= count)`` for ``X ~ NB(mean=expected, size)``; Poisson where size is inf."""
    y, mu, r = np.broadcast_arrays(
        np.asarray(count, dtype=float), np.asarray(expected, dtype=float), np.asarray(size, float)
    )
    out = np.ones(y.shape)
    positive = y > 0
    poisson = positive & ~np.isfinite(r)
    nb = positive & np.isfinite(r)
    # P(X >= y) = I_{mu/(r+mu)}(y, r) for NB; the regularised lower gamma P(y, mu) for Poisson.
    out[nb] = special.betainc(y[nb], r[nb], mu[nb] / (r[nb] + mu[nb]))
    out[poisson] = special.gammainc(y[poisson], mu[poisson])
    return out


def detect_spikes(
    counts: ArrayLike,
    start: datetime,
    bucket: timedelta,
    params: SpikeParams | None = None,
    sources: ArrayLike | None = None,
) -> SpikeResult:
    """Judge every bucket of one series (1-D counts) or many aligned series (2-D, rows).

    ``start`` is the (naive UTC) start of the first bucket; buckets are contiguous and
    ``bucket`` wide. ``sources`` (same shape) are distinct sources per bucket; without
    them the ``min_sources`` rule is not applied.
    """
    params = params or SpikeParams()
    y = np.asarray(counts, dtype=float)
    one = y.ndim == 1
    y2 = np.atleast_2d(y)
    src = None if sources is None else np.atleast_2d(np.asarray(sources, dtype=float))
    if y2.shape[0] > CHUNK_ROWS:  # bounded memory, and faster (the arrays stay in cache)
        parts = [
            _detect_rows(
                y2[i : i + CHUNK_ROWS],
                start,
                bucket,
                params,
                None if src is None else src[i : i + CHUNK_ROWS],
            )
            for i in range(0, y2.shape[0], CHUNK_ROWS)
        ]
        arrays = {name: np.concatenate([getattr(part, name) for part in parts]) for name in _ARRAYS}
        return SpikeResult(**arrays, passes=max(part.passes for part in parts))
    result = _detect_rows(y2, start, bucket, params, src)
    if not one:
        return result
    first = {name: getattr(result, name)[0] for name in _ARRAYS}
    return SpikeResult(**first, passes=result.passes)


_ARRAYS = ("counts", "expected", "tail_probability", "size", "judged", "anomalous", "spike")
CHUNK_ROWS = 32


def _detect_rows(
    y2: Floats,
    start: datetime,
    bucket: timedelta,
    params: SpikeParams,
    sources: Floats | None,
) -> SpikeResult:
    rows, length = y2.shape
    width = int(bucket.total_seconds())
    if width <= 0:
        raise ValueError("bucket width must be positive")
    lay = layout_for(int(epoch_seconds(start)), width, length, params)
    padded = np.zeros((rows, lay.length))
    padded[:, lay.lead : lay.lead + length] = y2
    present = np.zeros((rows, lay.length))
    present[:, lay.lead : lay.lead + length] = 1.0
    baseline = Baseline(lay, params)
    unflagged = baseline.everything(padded, present)

    mu = np.zeros_like(padded)
    size = np.ones_like(padded)
    tail = np.ones_like(padded)
    judged = np.zeros(padded.shape, dtype=bool)
    flags = np.zeros(padded.shape, dtype=bool)
    held = np.zeros(padded.shape, dtype=bool)
    floor = max(params.min_count, 1)
    scale = lay.per_slot  # buckets per hour when they divide an hour (5 minutes: 12), else 1
    release = 10.0**-params.peak_score
    aftermath = int(AFTERMATH.total_seconds() // width)
    active = np.arange(rows)
    passes = 0
    while active.size and passes < params.max_passes:
        passes += 1
        sub = padded[active]
        use = present[active] * ~(flags[active] | held[active])
        sums = (unflagged[0][active], unflagged[1][active])
        mu_a, size_a, judged_a, rate_sd = baseline.fit(sub, use, sums, present[active])
        sample = use * judged_a
        flagged = present[active] * flags[active] * judged_a
        tail_a = _surprise(baseline, sub, mu_a, size_a, judged_a, sample, flagged)
        eligible = sub >= floor
        if scale > 1:
            # Also the hour ending at each bucket: a burst spread over several buckets
            # (30 stories in an hour are 2.5 per 5 minutes) is as much news as a sharp one.
            # Two tests per bucket, so each at half the threshold (Bonferroni).
            hour = _rolling(sub, scale)
            mean = _rolling(mu_a, scale)
            var = _rolling(mu_a + mu_a**2 / size_a, scale)
            # Buckets of one hour are not independent (a story's follow-ups, copies that
            # dedupe missed): the hour's variance is the buckets' summed variance times
            # how much more the trailing hours really varied.
            # An hour holding flagged (or held) buckets is neither the usual nor a
            # flag: it stays out of what the hour test is fitted on (its spread and its
            # calibration). Counted as usual, each story's next hour said that such
            # hours are common.
            kept_out = present[active] * (flags[active] | held[active])
            clean = sample * (_rolling(kept_out, scale) == 0)
            var = var * baseline.inflation(hour, mean, var, clean)
            # And the rate's uncertainty is one error the hour's buckets share (they read
            # the same slot): summed as independent, its covariances were missing and a
            # new cluster's first days alarmed on noise. Added as fully correlated (the
            # sum of standard deviations, squared): an upper bound, never bolder.
            var = var + np.maximum(_rolling(rate_sd, scale) ** 2 - _rolling(rate_sd**2, scale), 0.0)
            hour_size = mean**2 / np.maximum(var - mean, 1e-9 * mean + 1e-12)
            hour_tail = _surprise(baseline, hour, mean, hour_size, judged_a, clean, flagged)
            # The hour after a sharp spike stays anomalous for as long as it holds the
            # spike: those buckets are flagged too (one episode; they are not quiet).
            tail_a = np.minimum(1.0, 2.0 * np.minimum(tail_a, hour_tail))
            # A bucket without a story is never the one flagged: the hour's stories
            # were in the buckets before it (and an episode opens on a story).
            eligible = eligible | ((hour >= floor) & (sub > 0))
        mu[active], size[active], judged[active], tail[active] = mu_a, size_a, judged_a, tail_a
        new = eligible & judged_a & (tail_a < params.threshold)
        # A story's aftermath (still a peak, though no longer a spike) is not the usual
        # either: it stays out of the baseline too, for at most AFTERMATH.
        hold = _held(new, judged_a & (tail_a < release), aftermath)
        changed = ((new != flags[active]) | (hold != held[active])).any(axis=1)
        flags[active] = new
        held[active] = hold
        active = active[changed]
    if active.size:
        logger.debug("spike flags of %d series not settled in %d passes", active.size, passes)

    window = slice(lay.lead, lay.lead + length)
    spike = flags[:, window]
    if sources is not None:
        spike = spike & (sources >= params.min_sources)
    return SpikeResult(
        counts=padded[:, window],
        expected=mu[:, window],
        tail_probability=tail[:, window],
        size=size[:, window],
        judged=judged[:, window],
        anomalous=flags[:, window],
        spike=spike,
        passes=passes,
    )


AFTERMATH = timedelta(hours=12)
"""How long after its last flagged bucket a story's aftermath may stay out of the baseline."""


def _held(flags: Bools, elevated: Bools, limit: int) -> Bools:
    """Flags plus the ``elevated`` buckets that follow a flag without a break, at most
    ``limit`` buckets after the last flag."""
    rows, length = flags.shape
    index = np.broadcast_to(np.arange(length), (rows, length))
    last_flag = np.maximum.accumulate(np.where(flags, index, -1), axis=1)
    breaks = ~(elevated | flags)
    last_break = np.maximum.accumulate(np.where(breaks, index, -1), axis=1)
    after = (last_flag >= 0) & (last_flag > last_break) & (index - last_flag <= limit)
    return np.asarray(flags | (elevated & after))


GATE = 0.8
"""Standard deviations above the mean beyond which the exact tail is computed: below it a
bucket is neither a spike nor a peak (``P(X >= mu + 0.8 sd)`` exceeds 0.1 for these NBs),
and a normal approximation serves (the exact tail is the costly part)."""


def _surprise(
    baseline: Baseline,
    counts: Floats,
    mu: Floats,
    size: Floats,
    judged: Bools,
    sample: Floats,
    flagged: Floats,
) -> Floats:
    """Per bucket, the tail probability of its count: exact NB well above the mean, a
    normal approximation elsewhere, 1 where not judged; calibrated on the series' own
    peaks (``_Baseline.calibrate``) unless the params say otherwise."""
    # A size of 0 is an unbounded spread (a first pass can see one where a huge burst
    # has not been left out yet): nothing is surprising there.
    wander = np.divide(mu**2, size, out=np.full_like(mu, np.inf), where=size > 0)
    sd = np.maximum(np.sqrt(mu + wander), 1e-12)
    # The normal approximation everywhere (cheaper than picking the buckets out), then
    # the exact tail where it matters; 1 where not judged or empty.
    tail = np.where(judged & (counts > 0), special.ndtr((mu - counts + 0.5) / sd), 1.0)
    exact = judged & (counts > 0) & (counts - mu > GATE * sd)
    tail[exact] = tail_probability(counts[exact], mu[exact], size[exact])
    if baseline.params.calibrate:
        tail = baseline.calibrate(tail, sample, flagged, counts)
    return tail


def _rolling(values: Floats, k: int) -> Floats:
    """Sum of the ``k`` buckets ending at each bucket (fewer at the start), last axis."""
    total = np.cumsum(values, axis=-1)
    out = total.copy()
    out[..., k:] -= total[..., :-k]
    return out
