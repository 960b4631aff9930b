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
* **Spread**: the count is negative binomial with mean ``mu`` and variance
  ``mu (1 + delta) + phi mu^2 + mu^2 v``. ``delta`` (clumps: a desk filing a batch, a
  cascade of posts; variance proportional to the mean) and ``phi`` (the rate itself
  wandering; variance proportional to the mean squared) are re-estimated by the method of
  moments on the trailing residuals (the excess ``(y - mu)^2 - y`` regressed on ``mu`` and
  ``mu^2``), shrunk toward a prior and floored at 0 (Poisson). ``v`` is the posterior
  uncertainty of the rate itself (``1 / (alpha + S_slot) + ...``, scaled by the
  dispersion), so a short history gives a wide predictive and does not fire on everything
  (the gamma-Poisson posterior predictive, moment-matched to one NB).
* **Tail probability** ``P(X >= observed)`` (``betainc``). A bucket is *anomalous* when it is
  below ``threshold`` with at least ``min_count``; a *spike* also needs ``min_sources``
  distinct sources (when sources are given). Nothing is judged before ``warmup`` buckets
  of history exist.
* **Flagged buckets stay out of the baseline.** That makes each bucket's baseline depend on
  earlier verdicts. Instead of a Python loop over buckets, the detector iterates vectorised
  passes to the fixed point: pass k recomputes every baseline with the flags of pass k-1.
  The fixed point is exactly the sequential answer (a bucket's baseline only reads earlier
  buckets); real series converge in 2-4 passes (capped at ``max_passes``). So that a
  lasting level shift is eventually accepted as the new normal, flags are ignored for a
  window in which more than half of the buckets are flagged.

The baseline of a bucket uses only whole periods (days, for sub-daily buckets) before the
bucket's own, so all buckets of one day share one baseline: cheap, and a burst earlier in
the day cannot mask a later one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

logger = logging.getLogger(__name__)

DAY = 86_400
HOUR = 3_600
WEEK_DAYS = 7
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]


@dataclass(frozen=True)
class SpikeParams:
    """What the detector is told; ``from_config`` takes the ``[detection]`` values."""

    threshold: float = 0.001
    """Upper-tail probability below which a bucket is anomalous."""
    min_count: int = 5
    min_sources: int = 2
    history: timedelta = timedelta(days=14)
    """Trailing window of the level and the time-of-day profile."""
    weekly_history: timedelta = timedelta(days=28)
    """Trailing window of the day-of-week factor."""
    profile_prior: float = 2.0
    """``alpha``: prior shape of a slot's rate relative to the level (CV ``1/sqrt(alpha)``)."""
    weekday_prior: float = 10.0
    """``beta``: the same for the day-of-week factor (weekly effects are milder)."""
    level_prior: tuple[float, float] = (1.0, 1.0)
    """Gamma prior of the level: (shape, buckets), i.e. one count per bucket, worth one bucket."""
    dispersion_prior: float = 0.1
    """Prior over-dispersion ``phi`` (the prior ``delta`` is 0)..."""
    dispersion_weight: float = 24.0
    """...worth this many buckets."""
    warmup: int | None = None
    """Buckets of history needed before judging; default: one day's worth, at least 7."""
    min_window: int = 28
    """The history window is never shorter than this many buckets (coarse buckets)."""
    max_passes: int = 8

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> SpikeParams:
        """From a ``DetectionConfig`` (threshold, min_count, min_sources, history)."""
        values = {
            "threshold": config.threshold,
            "min_count": config.min_count,
            "min_sources": config.min_sources,
            "history": config.history,
        }
        values.update(overrides)
        return cls(**values)


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


def score(tail_probability: ArrayLike) -> Floats:
    """``-log10`` of a tail probability, capped at 300 (a probability that underflowed)."""
    tail = np.clip(np.asarray(tail_probability, dtype=float), 1e-300, 1.0)
    return np.asarray(-np.log10(tail) + 0.0, dtype=float)


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


@dataclass(frozen=True)
class _Layout:
    """How buckets map onto periods (days), slots (hours) and weekdays."""

    per_period: int
    """Buckets per period: a day's worth for sub-daily buckets, else 1."""
    per_slot: int
    """Buckets per time-of-day slot."""
    lead: int
    """Empty buckets padded in front so the first padded bucket starts a period."""
    periods: int
    first_day: int
    """Days since 1970-01-01 of the first padded period (when periods are days)."""
    window: int
    """Periods in the history window."""
    weekly: bool
    """Periods are days, so a day-of-week factor can be fitted."""

    @property
    def slots(self) -> int:
        return self.per_period // self.per_slot

    @property
    def length(self) -> int:
        return self.periods * self.per_period


def _layout(start: int, width: int, length: int, params: SpikeParams) -> _Layout:
    history = params.history.total_seconds()
    if width <= DAY and DAY % width == 0:
        per_period = DAY // width
        per_slot = HOUR // width if width < HOUR and HOUR % width == 0 else 1
        period_seconds = DAY
        weekly = True
    else:
        per_period, per_slot, period_seconds, weekly = 1, 1, width, False
    lead = (start % period_seconds) // width if weekly else 0
    periods = -(-(lead + length) // per_period)
    window = max(math.ceil(history / period_seconds), math.ceil(params.min_window / per_period))
    first_day = (start - lead * width) // DAY
    return _Layout(per_period, per_slot, lead, periods, first_day, window, weekly)


def _trailing(values: Floats, window: int) -> Floats:
    """Sum over the ``window`` previous entries along the last axis (excluding each one)."""
    zero = np.zeros((*values.shape[:-1], 1))
    cumulative = np.concatenate([zero, np.cumsum(values, axis=-1)], axis=-1)
    end = np.arange(values.shape[-1])
    begin = np.maximum(end - window, 0)
    return np.asarray(cumulative[..., end] - cumulative[..., begin])


def _trailing_same_weekday(daily: Floats, weeks: int, shift: int) -> Floats:
    """Sum over the same weekday of the ``weeks`` previous weeks, per day (last axis).

    ``shift`` is the weekday of the first day; the arithmetic only needs days to line up
    in sevens, so the first day is simply padded to the start of its week."""
    days = daily.shape[-1]
    padded_days = -(-(days + shift) // WEEK_DAYS) * WEEK_DAYS
    padded = np.zeros((*daily.shape[:-1], padded_days))
    padded[..., shift : shift + days] = daily
    by_week = padded.reshape(*daily.shape[:-1], padded_days // WEEK_DAYS, WEEK_DAYS)
    summed = _trailing(np.swapaxes(by_week, -1, -2), weeks)  # (..., weekday, week)
    flat = np.swapaxes(summed, -1, -2).reshape(*daily.shape[:-1], padded_days)
    return np.asarray(flat[..., shift : shift + days])


class _Baseline:
    """Expected counts and NB sizes on padded arrays (rows x periods*per_period)."""

    def __init__(self, layout: _Layout, params: SpikeParams) -> None:
        self.layout = layout
        self.params = params

    def per_slot(self, values: Floats) -> Floats:
        """(rows, length) -> (rows, slots, periods) sums."""
        lay = self.layout
        summed = values.reshape(values.shape[0], lay.periods, lay.slots, lay.per_slot).sum(-1)
        return np.swapaxes(summed, 1, 2)

    def per_period(self, values: Floats) -> Floats:
        """(rows, length) -> (rows, periods) sums."""
        return values.reshape(values.shape[0], self.layout.periods, -1).sum(-1)

    def to_buckets(self, values: Floats) -> Floats:
        """(rows, slots, periods) -> (rows, length), each slot's value on its buckets."""
        lay = self.layout
        ordered = np.swapaxes(values, 1, 2)[..., None]
        spread = np.broadcast_to(ordered, (*ordered.shape[:-1], lay.per_slot))
        return spread.reshape(values.shape[0], lay.length)

    def from_periods(self, values: Floats) -> Floats:
        """(rows, periods) -> (rows, length)."""
        return np.repeat(values, self.layout.per_period, axis=1)

    def everything(self, counts: Floats, present: Floats) -> tuple[Floats, Floats]:
        """Trailing sums and bucket numbers per slot with nothing left out."""
        window = self.layout.window
        return (
            _trailing(self.per_slot(counts * present), window),
            _trailing(self.per_slot(present), window),
        )

    def fit(
        self, counts: Floats, use: Floats, unflagged: tuple[Floats, Floats]
    ) -> tuple[Floats, Floats, Bools]:
        """``mu``, NB size and "judged" per bucket; ``use`` marks buckets the baseline reads."""
        lay, p = self.layout, self.params
        alpha = p.profile_prior
        shape0, buckets0 = p.level_prior
        kept = counts * use

        # Trailing sums per slot and period, flags left out (rows, slots, periods).
        slot_s = _trailing(self.per_slot(kept), lay.window)
        slot_n = _trailing(self.per_slot(use), lay.window)
        all_s, all_n = unflagged
        # A window more than half flagged is a new normal: stop leaving flags out.
        shifted = slot_n.sum(1, keepdims=True) < 0.5 * all_n.sum(1, keepdims=True)
        slot_s = np.where(shifted, all_s, slot_s)
        slot_n = np.where(shifted, all_n, slot_n)
        total_s = slot_s.sum(1)  # (rows, periods)
        total_n = slot_n.sum(1)
        level = (shape0 + total_s) / (buckets0 + total_n)
        # Relative variances of the estimated rates, in Poisson units (scaled by 1 + phi mu).
        level_relvar = 1.0 / (shape0 + total_s)
        if lay.slots > 1:
            prior_n = alpha / level[:, None, :]
            rate = (alpha + slot_s) / (prior_n + slot_n)
            weight = prior_n / (prior_n + slot_n)
            relvar = 1.0 / (alpha + slot_s) + weight**2 * level_relvar[:, None, :]
        else:
            rate = level[:, None, :]
            relvar = level_relvar[:, None, :]
        if lay.weekly and lay.periods > WEEK_DAYS:
            factor, factor_relvar = self._weekday(kept, use)
            rate = rate * factor[:, None, :]
            relvar = relvar + factor_relvar[:, None, :]
        mu = self.to_buckets(rate)
        judged_periods = all_n.sum(1) >= self._warmup()
        judged = self.from_periods(judged_periods) > 0
        delta_p, phi_p = self._dispersion(counts, mu, use * judged)
        delta, phi = self.from_periods(delta_p), self.from_periods(phi_p)
        # Var = mu (1 + delta) + phi mu^2, plus the rate's own uncertainty (relvar, in
        # Poisson units, scaled by the dispersion) -> the NB size with that variance.
        relvar_rate = self.to_buckets(relvar) * (1.0 + delta + phi * mu)
        size = 1.0 / (delta / np.maximum(mu, 1e-12) + phi + relvar_rate)
        return mu, size, judged

    def _warmup(self) -> int:
        if self.params.warmup is not None:
            return self.params.warmup
        return max(self.layout.per_period, 7)

    def _weekday(self, kept: Floats, use: Floats) -> tuple[Floats, Floats]:
        """Day-of-week factor and its relative variance, per (row, day)."""
        lay, beta = self.layout, self.params.weekday_prior
        daily_s, daily_n = self.per_period(kept), self.per_period(use)
        weeks = max(1, round(self.params.weekly_history.total_seconds() / (WEEK_DAYS * DAY)))
        shift = (lay.first_day + 3) % WEEK_DAYS  # 1970-01-01 was a Thursday; weeks start Monday
        same_s = _trailing_same_weekday(daily_s, weeks, shift)
        same_n = _trailing_same_weekday(daily_n, weeks, shift)
        month_s = _trailing(daily_s, weeks * WEEK_DAYS)
        month_n = _trailing(daily_n, weeks * WEEK_DAYS)
        rate = month_s / np.maximum(month_n, 1.0)
        factor = (beta + same_s) / (beta + same_n * rate)
        known = same_n >= 2.5 * lay.per_period  # three same weekdays, give or take gaps
        return np.where(known, factor, 1.0), np.where(known, 1.0 / (beta + same_s), 0.0)

    def _dispersion(self, counts: Floats, mu: Floats, use: Floats) -> tuple[Floats, Floats]:
        """Method-of-moments ``(delta, phi)`` per period over the trailing window.

        The excess variance ``e = (y - mu)^2 - y`` is fitted as ``delta mu + phi mu^2`` by
        least squares weighted by ``1 / mu`` (the normal equations are ``sum e = delta sum mu
        + phi sum mu^2`` and ``sum e mu = delta sum mu^2 + phi sum mu^3``: the first keeps
        the total excess right, and nothing divides by a tiny ``mu``). Both terms are
        floored at 0 (refitting the other alone) and shrunk toward the prior with
        ``dispersion_weight`` pseudo-buckets."""
        p, window = self.params, self.layout.window
        excess = ((counts - mu) ** 2 - counts) * use
        m = mu * use

        def trailing(values: Floats) -> Floats:
            return _trailing(self.per_period(values), window)

        n = trailing(use)
        s1, s2, s3 = trailing(m), trailing(m * mu), trailing(m * mu * mu)
        e0, e1 = trailing(excess), trailing(excess * mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            det = s1 * s3 - s2**2
            solvable = det > 1e-9 * s1 * s3
            delta = np.where(solvable, (e0 * s3 - e1 * s2) / det, -1.0)
            phi = np.where(solvable, (s1 * e1 - s2 * e0) / det, -1.0)
            only_phi = np.maximum(e0 / s2, 0.0)
            only_delta = np.maximum(e0 / s1, 0.0)
            fallback = (delta < 0) | (phi < 0)
            # One term alone: phi when delta came out negative, else delta.
            pick_phi = fallback & (delta < 0) & solvable
            delta = np.where(fallback, np.where(pick_phi, 0.0, only_delta), delta)
            phi = np.where(fallback, np.where(pick_phi, only_phi, 0.0), phi)
        delta = np.nan_to_num(delta, posinf=0.0)
        phi = np.nan_to_num(phi, posinf=0.0)
        weight = p.dispersion_weight
        phi = (n * phi + weight * p.dispersion_prior) / (n + weight)
        delta = n * delta / (n + weight)
        return delta, phi


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
    lay = _layout(_epoch(start), width, length, params)
    padded = np.zeros((rows, lay.length))
    padded[:, lay.lead : lay.lead + length] = y2
    present = np.zeros((rows, lay.length))
    present[:, lay.lead : lay.lead + length] = 1.0
    baseline = _Baseline(lay, params)
    unflagged = baseline.everything(padded, present)

    mu = np.zeros_like(padded)
    size = np.ones_like(padded)
    judged = np.zeros(padded.shape, dtype=bool)
    flags = np.zeros(padded.shape, dtype=bool)
    # Buckets that could be flagged at all: enough stories, and far enough above the mean
    # that the exact tail is worth computing (P(X >= mu + 2 sd) > 0.0118 for every NB).
    gate = 2.0 if params.threshold < 0.0118 else 0.0
    floor = max(params.min_count, 1)
    active = np.arange(rows)
    passes = 0
    while active.size and passes < params.max_passes:
        passes += 1
        sub = padded[active]
        use = present[active] * ~flags[active]
        sums = (unflagged[0][active], unflagged[1][active])
        mu_a, size_a, judged_a = baseline.fit(sub, use, sums)
        mu[active], size[active], judged[active] = mu_a, size_a, judged_a
        z = (sub - mu_a) / np.sqrt(mu_a + mu_a**2 / size_a)
        check = (sub >= floor) & judged_a & (z > gate)
        new = np.zeros(sub.shape, dtype=bool)
        new[check] = tail_probability(sub[check], mu_a[check], size_a[check]) < params.threshold
        changed = (new != flags[active]).any(axis=1)
        flags[active] = new
        active = active[changed]
    if active.size:
        logger.debug("spike flags of %d series not settled in %d passes", active.size, passes)

    # Tails for the caller: exact above the mean, a normal approximation at or below it
    # (those are unremarkable, and the exact tail is the costly part).
    tail = np.ones_like(padded)
    above = judged & (padded > mu)
    tail[above] = tail_probability(padded[above], mu[above], size[above])
    below = judged & (padded > 0) & ~above
    sd = np.sqrt(mu[below] + mu[below] ** 2 / size[below])
    tail[below] = special.ndtr((mu[below] - padded[below] + 0.5) / sd)

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


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
