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
* **Tail probability** ``P(X >= observed)`` (``betainc``), then **calibrated** on the
  series' own history (``_Baseline.calibrate``): real counts have heavier tails than any
  NB, so how often this series produces a bucket that surprising is fitted on its trailing
  peaks (a generalised Pareto over a threshold) and the tail is never below the model's.
  A bucket is *anomalous* when the calibrated tail is below ``threshold`` with at least
  ``min_count``; a *spike* also needs ``min_sources`` distinct sources (when sources are
  given). Nothing is judged before ``warmup`` buckets of history exist.
* **Sub-hour buckets** are also judged as the hour ending at each bucket (its NB: the
  summed means, and the summed variances times how much more the trailing hours really
  varied), each test at half the threshold: a burst spread thin over an hour is news even
  when no single bucket reaches ``min_count``.
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
    """Buckets of history needed before judging; default: two days' worth, at least 7."""
    min_window: int = 28
    """The history window is never shorter than this many buckets (coarse buckets)."""
    max_passes: int = 8
    calibrate: bool = True
    """Calibrate the model's tail probabilities on the series' own peaks (see the module
    doc); without it they are taken at face value."""
    peak_score: float = 1.0
    """Buckets scoring above this (a model tail below 0.1) are the peaks the tail is fitted on."""
    peak_prior: float = 20.0
    """The model's own tail is worth this many peaks: with few, calibration changes little."""

    @classmethod
    def from_config(
        cls, config: Any, bucket: timedelta | None = None, **overrides: Any
    ) -> SpikeParams:
        """From a ``DetectionConfig``: its false-alarm budget (or threshold) for buckets of
        ``bucket`` (default: its own), min_count, min_sources, history."""
        values = {
            "threshold": config.spike_threshold(bucket),
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


def gpd_survival(excess: Floats, shape: Floats, scale: Floats) -> Floats:
    """``P(X > excess)`` for a generalised Pareto with ``shape`` (xi) and ``scale``."""
    z = excess / scale
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base = 1.0 + shape * z
        safe = np.where(np.abs(shape) < 1e-9, 1.0, shape)
        power = np.where(base > 0, np.power(np.maximum(base, 1e-300), -1.0 / safe), 0.0)
    return np.asarray(np.where(np.abs(shape) < 1e-9, np.exp(-z), power), dtype=float)


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
    calibration_window: int
    """Periods whose peaks calibrate the tail (``weekly_history``, at least ``window``)."""

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
    calibration = max(window, math.ceil(params.weekly_history.total_seconds() / period_seconds))
    return _Layout(per_period, per_slot, lead, periods, first_day, window, weekly, calibration)


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
        # The spread is fitted on every bucket with a baseline at all (a period of
        # history), judged or not yet, so the first judged day has data to go by.
        modelled = self.from_periods(all_n.sum(1) >= lay.per_period) > 0
        delta_p, phi_p = self._dispersion(counts, mu, use * modelled)
        delta, phi = self.from_periods(delta_p), self.from_periods(phi_p)
        # Var = mu (1 + delta) + phi mu^2, plus the rate's own uncertainty (relvar, in
        # Poisson units, scaled by the dispersion) -> the NB size with that variance.
        relvar_rate = self.to_buckets(relvar) * (1.0 + delta + phi * mu)
        size = 1.0 / (delta / np.maximum(mu, 1e-12) + phi + relvar_rate)
        return mu, size, judged

    def calibrate(self, tail: Floats, sample: Floats, flagged: Floats, counts: Floats) -> Floats:
        """The model's tail probabilities, calibrated on the trailing peaks of the series.

        A bucket's score ``s = -log10(tail)`` above ``u = peak_score`` is a peak (if its
        count could make a spike: at least ``min_count``). Were the model exact, peaks
        would come at rate ``10**-u`` and their excess ``s - u`` would be exponential with
        mean ``1/ln 10``. Real counts have heavier tails, so the rate and the excess are
        fitted on the trailing ``calibration_window``: the excess as a generalised Pareto
        (the limit law of peaks over a threshold, Pickands-Balkema-de Haan; moments, shape
        clipped to [-0.25, 0.45]), both shrunk toward the model's own tail with
        ``peak_prior`` pseudo-peaks. The calibrated tail of a peak is
        ``rate * GPD_survival(s - u)``; below ``u`` the model tail is scaled by the same
        rate ratio (those buckets are never spikes at sane thresholds).

        ``sample`` marks the unflagged buckets, ``flagged`` the flagged ones. Flagged
        buckets stay out, as they stay out of the baseline, unless the window holds more
        of them than the budget allows (``FLAG_EXCESS`` times the threshold's share, and
        at least ``MIN_EXCESS_FLAGS``): then bursts are this series' way, not news, and
        they are peaks like the others (as a lasting level shift becomes the new normal).
        The result is never below the model's own tail: calibration only corrects the
        model where the series is wilder than it thinks."""
        p = self.params
        u = p.peak_score
        scores = score(tail)
        eligible = (scores > u) & (counts >= max(p.min_count, 1))
        excess = np.where(eligible, scores - u, 0.0)

        def trailing(values: Floats) -> Floats:
            return self.from_periods(
                _trailing(self.per_period(values), self.layout.calibration_window)
            )

        n_kept, n_flagged = trailing(sample), trailing(flagged)
        too_many = n_flagged > np.maximum(
            MIN_EXCESS_FLAGS, FLAG_EXCESS * p.threshold * (n_kept + n_flagged)
        )
        weight = sample + flagged * too_many

        n, k = trailing(weight), trailing(weight * eligible)
        s1, s2 = trailing(weight * excess), trailing(weight * excess * excess)
        k0, q0, m0 = p.peak_prior, 10.0**-u, 1.0 / math.log(10)
        rate = (k + k0) / (n + k0 / q0)
        out = np.minimum(1.0, tail * rate / q0)
        over = scores > u
        kk = k[over] + k0
        mean = (s1[over] + k0 * m0) / kk
        var = np.maximum((s2[over] + k0 * 2.0 * m0 * m0) / kk - mean * mean, 1e-12)
        xi = np.clip(0.5 * (1.0 - mean * mean / var), -0.25, 0.45)
        sigma = mean * (1.0 - xi)  # the GPD's mean is sigma / (1 - xi)
        out[over] = rate[over] * gpd_survival(scores[over] - u, xi, sigma)
        # Only ever more cautious than the model: a series whose peaks are rarer than the
        # model says keeps the model's verdicts (the budget is a bound, not a quota).
        return np.maximum(out, tail)

    def inflation(self, counts: Floats, mean: Floats, var: Floats, use: Floats) -> Floats:
        """Per bucket, how much more ``counts`` varied around ``mean`` over the trailing
        window (buckets in ``use``) than ``var`` says: a moment ratio, at least 1, shrunk
        toward 1 with ``dispersion_weight`` pseudo-buckets."""
        window = self.layout.window

        def trailing(values: Floats) -> Floats:
            return self.from_periods(_trailing(self.per_period(values), window))

        seen = trailing(use * (counts - mean) ** 2)
        said = trailing(use * var)
        n, weight = trailing(use), self.params.dispersion_weight
        ratio = (seen + weight) / np.maximum(said + weight * said / np.maximum(n, 1.0), 1e-12)
        return np.maximum(1.0, np.where(said > 0, ratio, 1.0))

    def _warmup(self) -> int:
        """Two periods (days) of history, at least 7 buckets: the first judged day's
        over-dispersion is then fitted on a day of data, not taken from the prior alone."""
        if self.params.warmup is not None:
            return self.params.warmup
        return max(2 * self.layout.per_period, 7)

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
    tail = np.ones_like(padded)
    judged = np.zeros(padded.shape, dtype=bool)
    flags = np.zeros(padded.shape, dtype=bool)
    floor = max(params.min_count, 1)
    scale = _hour_scale(width)
    active = np.arange(rows)
    passes = 0
    while active.size and passes < params.max_passes:
        passes += 1
        sub = padded[active]
        use = present[active] * ~flags[active]
        sums = (unflagged[0][active], unflagged[1][active])
        mu_a, size_a, judged_a = baseline.fit(sub, use, sums)
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
            var = var * baseline.inflation(hour, mean, var, sample)
            hour_size = mean**2 / np.maximum(var - mean, 1e-9 * mean + 1e-12)
            hour_tail = _surprise(baseline, hour, mean, hour_size, judged_a, sample, flagged)
            # The hour after a sharp spike stays anomalous for as long as it holds the
            # spike: those buckets are flagged too (one episode; they are not quiet).
            tail_a = np.minimum(1.0, 2.0 * np.minimum(tail_a, hour_tail))
            eligible = eligible | (hour >= floor)
        mu[active], size[active], judged[active], tail[active] = mu_a, size_a, judged_a, tail_a
        new = eligible & judged_a & (tail_a < params.threshold)
        changed = (new != flags[active]).any(axis=1)
        flags[active] = new
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


FLAG_EXCESS = 2.0
MIN_EXCESS_FLAGS = 2.0
"""Flags in the calibration window beyond this many times the threshold's share (and at
least this many) are the series' habit: they count among its peaks."""
GATE = 0.8
"""Standard deviations above the mean beyond which the exact tail is computed: below it a
bucket is neither a spike nor a peak (``P(X >= mu + 0.8 sd)`` exceeds 0.1 for these NBs),
and a normal approximation serves (the exact tail is the costly part)."""


def _surprise(
    baseline: _Baseline,
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
    sd = np.sqrt(mu + mu**2 / size)
    z = (counts - mu) / np.maximum(sd, 1e-12)
    tail = np.ones(counts.shape)
    exact = judged & (counts > 0) & (z > GATE)
    tail[exact] = tail_probability(counts[exact], mu[exact], size[exact])
    rough = judged & (counts > 0) & ~exact
    tail[rough] = special.ndtr((mu[rough] - counts[rough] + 0.5) / np.maximum(sd[rough], 1e-12))
    if baseline.params.calibrate:
        tail = baseline.calibrate(tail, sample, flagged, counts)
    return tail


def _hour_scale(width: int) -> int:
    """Buckets per hour when buckets divide an hour (5 minutes: 12), else 1."""
    return HOUR // width if width < HOUR and HOUR % width == 0 else 1


def _rolling(values: Floats, k: int) -> Floats:
    """Sum of the ``k`` buckets ending at each bucket (fewer at the start), last axis."""
    total = np.cumsum(values, axis=-1)
    out = total.copy()
    out[..., k:] -= total[..., :-k]
    return out


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
