"""The detector's baseline: what a bucket's count usually is, and how much it varies.
Pure: arrays in, arrays out. ``alerts.spikes`` (whose docstring describes the model)
judges buckets against it; this module holds what it is told (``SpikeParams``), how
buckets map onto days, hours and weekdays (``Layout``) and the fit (``Baseline``).

The one rule to keep: a bucket's baseline only reads whole periods (days) before its own,
so every bucket of a day shares one baseline, and a burst earlier in the day cannot mask
a later one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alerts.calibration import (
    ROBUST_SD,
    ROBUST_STEPS,
    Calibration,
    calibrated_tail,
    variance_inflation,
)

DAY = 86_400
HOUR = 3_600
WEEK_DAYS = 7
Floats = NDArray[np.float64]
LOCAL_CLIP = 3.0
"""Buckets count at most this many standard deviations above their expected count in the
recent level (``Baseline._recent_level``): a burst is not a level."""
OUTAGE_LOG = math.log(1e-3)
"""A bucket of 0 whose chance of 0 is below this (log) is missing data for the recent
level (``Baseline._recent_level``): a crawler or a feed was down."""
PHI_FRACTION = 4.0
"""The wander prior (``dispersion_prior``) is worth at most the window's buckets over this
(see ``Baseline._moments``)."""
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
    weekday_hour_prior: float = 25.0
    """``gamma``: the prior precision of an hour on one weekday relative to the hour's
    profile times the weekday's factor (CV ``1/sqrt(gamma)``, 0.2): a Saturday night
    need not be a Tuesday night scaled down, when its own weeks say so."""
    level_prior: tuple[float, float] = (1.0, 1.0)
    """Gamma prior of the level: (shape, buckets), i.e. one count per bucket, worth one bucket."""
    dispersion_prior: float = 0.1
    """Prior over-dispersion ``phi`` (the rate wandering)..."""
    clump_prior: float = 0.5
    """...and prior ``delta`` (clumps: copies dedupe misses, follow-ups; 0.5 is a variance
    1.5 times Poisson, as when one story in ten brings two or three more)..."""
    dispersion_weight: float = 24.0
    """...both worth this many buckets (the wander prior at most a quarter of the window's
    buckets). A sparse series cannot show its clumps in a few weeks of history; with a
    Poisson prior its ordinary five-story days looked like one-in-a-hundred events."""
    recent: timedelta = timedelta(hours=3)
    """Sub-daily buckets: the recent level is read over this span (in whole buckets),
    ending an hour before the bucket's end, or at its start for buckets of an hour or
    more (``Baseline._recent_level``)..."""
    recent_prior: float = 200.0
    """...shrunk toward the profile's with this many stories: a quiet cluster's few
    recent stories say little, a busy one's thousands say where today's level is (at 20
    a mid-sized cluster's expected counts wandered by a third on noise)."""
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
    peak_prior: float = 5.0
    """The model's own tail is worth this many runs of peaks: few, since a run is one
    burst and a month holds only a handful (at 20, a burst that came back every three
    days was still news after two months)."""

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
class Layout:
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


def layout_for(start: int, width: int, length: int, params: SpikeParams) -> Layout:
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
    return Layout(per_period, per_slot, lead, periods, first_day, window, weekly, calibration)


def trailing_sum(values: Floats, window: int) -> Floats:
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
    summed = trailing_sum(np.swapaxes(by_week, -1, -2), weeks)  # (..., weekday, week)
    flat = np.swapaxes(summed, -1, -2).reshape(*daily.shape[:-1], padded_days)
    return np.asarray(flat[..., shift : shift + days])


def _lagged_sum(values: Floats, span: int, gap: int) -> Floats:
    """Per bucket (last axis), the sum of ``values`` over the ``span`` buckets that end
    ``gap`` buckets before it (fewer at the start): ``trailing_sum`` moved ``gap - 1`` on."""
    out = np.zeros_like(values)
    kept = max(values.shape[-1] - gap + 1, 0)
    out[..., gap - 1 :] = trailing_sum(values, span)[..., :kept]
    return out


class Baseline:
    """Expected counts and NB sizes on padded arrays (rows x periods*per_period)."""

    def __init__(self, layout: Layout, params: SpikeParams) -> None:
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
            trailing_sum(self.per_slot(counts * present), window),
            trailing_sum(self.per_slot(present), window),
        )

    def fit(
        self, counts: Floats, use: Floats, unflagged: tuple[Floats, Floats], present: Floats
    ) -> tuple[Floats, Floats, Bools, Floats]:
        """``mu``, NB size, "judged" and ``rate_sd`` per bucket; ``use`` marks buckets the
        baseline reads, ``present`` the buckets of the series (not its padding).
        ``rate_sd`` is the part of the spread that is the rate's own uncertainty (included
        in the size): the buckets of one slot share it."""
        lay, p = self.layout, self.params
        alpha = p.profile_prior
        shape0, buckets0 = p.level_prior
        kept = counts * use

        # Trailing sums per slot and period, flags left out (rows, slots, periods).
        slot_s = trailing_sum(self.per_slot(kept), lay.window)
        slot_n = trailing_sum(self.per_slot(use), lay.window)
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
            if lay.slots > 1:
                rate, relvar = self._weekday_hours(kept, use, rate, relvar)
        mu = self.to_buckets(rate)
        relvar_b = self.to_buckets(relvar)
        judged_periods = all_n.sum(1) >= self._warmup()
        judged = self.from_periods(judged_periods) > 0
        # The spread is fitted on every bucket with a baseline at all (a period of
        # history), judged or not yet, so the first judged day has data to go by.
        modelled = use * (self.from_periods(all_n.sum(1) >= lay.per_period) > 0)
        delta_p, phi_p = self._dispersion(counts, mu, modelled)
        delta, phi = self.from_periods(delta_p), self.from_periods(phi_p)
        if lay.per_period > 1:
            # The spread stays the one fitted around the profile: it holds the day's
            # wander that the recent level now follows, so it errs wide (a bound).
            spread = mu * (1.0 + delta) + phi * mu * mu
            mu, relvar_b = self._recent_level(counts, present, mu, relvar_b, spread)
        # Var = mu (1 + delta) + phi mu^2, plus the rate's own uncertainty (relvar, in
        # Poisson units, scaled by the dispersion) -> the NB size with that variance.
        relvar_rate = relvar_b * (1.0 + delta + phi * mu)
        size = 1.0 / (delta / np.maximum(mu, 1e-12) + phi + relvar_rate)
        return mu, size, judged, mu * np.sqrt(relvar_rate)

    def _recent_level(
        self, counts: Floats, present: Floats, mu: Floats, relvar: Floats, spread: Floats
    ) -> tuple[Floats, Floats]:
        """``mu`` times the level of the last hours, and ``relvar`` plus its uncertainty.

        The profile says what an hour is like on an ordinary day of the last two weeks;
        news days are not ordinary. A rate that runs high all afternoon made every hour
        of it a spike, and a story on a day running low was measured against a level
        that day never had. So each bucket's expected count is scaled by how the recent
        buckets (``recent``, ending an hour before it: the hour test reads that hour)
        came out against theirs: ``(S + k) / (M + k)`` with ``k = recent_prior`` stories.
        A gamma-Poisson posterior of the day's level (a prior CV of about 0.09 at ``k`` =
        200): its relative variance ``1 / (S + k)`` adds to the rate's, in the Poisson
        units ``fit`` scales. A busy cluster (thousands of stories in three hours)
        follows its day; a quiet one (a few) keeps its profile.

        Every bucket of the series is read, flagged or not, each counted at most
        ``LOCAL_CLIP`` standard deviations above its expectation (by the wider of the
        priors' spread and the fitted ``spread``): a burst is not a level, but a day
        that stays hot is one. Leaving flags out, a hot day's level fell back to the
        profile as soon as its first hours were flagged, every later bucket was flagged
        too, and each bucket's level hung on the verdicts before it (passes beyond the
        cap). Zeros where zero is all but impossible under the fitted spread are an
        outage, not a quiet hour, and are not read: a feed polled every half hour leaves
        most of a busy cluster's five minutes empty, and its fitted spread says so."""
        p = self.params
        width = DAY // self.layout.per_period
        span = max(1, round(p.recent.total_seconds() / width))
        gap = max(1, HOUR // width)
        wide = mu * (1.0 + p.clump_prior) + p.dispersion_prior * mu * mu
        np.maximum(wide, spread, out=wide)
        clipped = np.minimum(counts, mu + LOCAL_CLIP * np.sqrt(wide))
        # A bucket with nothing where nothing is all but impossible (under the fitted
        # spread) is an outage, not a quiet hour: it says nothing of the day's level.
        # (A negative binomial's chance of 0 is at least a Poisson's, exp(-mu): only
        # buckets expecting more than -OUTAGE_LOG stories can be outages.)
        read = present.copy()
        zero = (counts == 0) & (present > 0) & (mu > -OUTAGE_LOG)
        m, excess = mu[zero], spread[zero] - mu[zero]
        size = m * m / np.maximum(excess, 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_zero = np.nan_to_num(size * np.log(size / (size + m)), nan=0.0)
        read[zero] = log_zero >= OUTAGE_LOG
        seen = _lagged_sum(clipped * read, span, gap)
        said = _lagged_sum(mu * read, span, gap)
        k = p.recent_prior
        return mu * (seen + k) / (said + k), relvar + 1.0 / (seen + k)

    def trailing(self, values: Floats, window: int) -> Floats:
        """Per bucket, the sum of ``values`` over the ``window`` periods before its own."""
        return self.from_periods(trailing_sum(self.per_period(values), window))

    def calibrate(self, tail: Floats, sample: Floats, flagged: Floats, counts: Floats) -> Floats:
        """The model's tails calibrated on the series' own trailing peaks
        (``alerts.calibration.calibrated_tail``)."""
        p, window = self.params, self.layout.calibration_window
        return calibrated_tail(
            tail,
            sample,
            flagged,
            counts,
            lambda values: self.trailing(values, window),
            Calibration(
                p.threshold,
                max(p.min_count, 1),
                p.peak_score,
                p.peak_prior,
                same_burst=self.layout.per_slot,  # flags within an hour: one burst
            ),
        )

    def inflation(self, counts: Floats, mean: Floats, var: Floats, use: Floats) -> Floats:
        """How much more ``counts`` varied around ``mean`` than ``var`` says, per bucket
        over the trailing window (``alerts.calibration.variance_inflation``): the larger
        of the whole window's ratio and its own hour of the day's. Some hours are less
        predictable than the day's average: where a day's level steps overnight, the
        first hours after midnight are measured against the evening before, and at the
        window-wide ratio every such step was a spike."""
        window, weight = self.layout.window, self.params.dispersion_weight
        overall = variance_inflation(
            counts, mean, var, use, lambda values: self.trailing(values, window), weight
        )
        if self.layout.slots == 1:
            return overall
        by_hour = variance_inflation(
            counts,
            mean,
            var,
            use,
            lambda values: self.to_buckets(trailing_sum(self.per_slot(values), window)),
            weight,
        )
        return np.maximum(overall, by_hour)

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
        weeks, shift = self._weeks(), self._shift()
        same_s = _trailing_same_weekday(daily_s, weeks, shift)
        same_n = _trailing_same_weekday(daily_n, weeks, shift)
        month_s = trailing_sum(daily_s, weeks * WEEK_DAYS)
        month_n = trailing_sum(daily_n, weeks * WEEK_DAYS)
        rate = month_s / np.maximum(month_n, 1.0)
        factor = (beta + same_s) / (beta + same_n * rate)
        known = same_n >= 2.5 * lay.per_period  # three same weekdays, give or take gaps
        return np.where(known, factor, 1.0), np.where(known, 1.0 / (beta + same_s), 0.0)

    def _weekday_hours(
        self, kept: Floats, use: Floats, rate: Floats, relvar: Floats
    ) -> tuple[Floats, Floats]:
        """Each slot's rate on its own weekday: the separable rate (slot profile x weekday
        factor) times a factor ``e`` learnt from the same weekday-slot over the trailing
        weeks. Per (row, slot, day).

        ``e`` is a precision-weighted mean on the relative scale: the prior says 1 with
        precision ``gamma``; the weeks say ``S / (n rate)`` with precision one over its
        variance under the priors' over-dispersion, ``(1 + delta) / (n rate) + phi / n``
        (four noisy Tuesdays say little; four busy ones a lot). The posterior variance is
        the rate's added uncertainty, in the Poisson units ``fit`` scales."""
        lay, p = self.layout, self.params
        weeks, shift = self._weeks(), self._shift()
        same_s = _trailing_same_weekday(self.per_slot(kept), weeks, shift)
        same_n = _trailing_same_weekday(self.per_slot(use), weeks, shift)
        known = same_n >= 2.5 * lay.per_slot  # three same weekday-hours, give or take gaps
        n = np.maximum(same_n, 1.0)
        spread = 1.0 + p.clump_prior + p.dispersion_prior * rate  # a bucket's var / mean
        data_precision = 1.0 / (spread / (n * np.maximum(rate, 1e-12)))
        said = same_s / (n * np.maximum(rate, 1e-12))
        precision = p.weekday_hour_prior + data_precision
        factor = (p.weekday_hour_prior + data_precision * said) / precision
        # The separable rate's own uncertainty carries in as far as the prior weighs.
        carried = (p.weekday_hour_prior / precision) ** 2 * relvar
        added = 1.0 / (precision * spread)  # a CV^2, in the Poisson units ``fit`` scales
        return np.where(known, rate * factor, rate), np.where(known, carried + added, relvar)

    def _weeks(self) -> int:
        return max(1, round(self.params.weekly_history.total_seconds() / (WEEK_DAYS * DAY)))

    def _shift(self) -> int:
        """Weekday of the first padded day (1970-01-01 was a Thursday; weeks start Monday)."""
        return (self.layout.first_day + 3) % WEEK_DAYS

    def _dispersion(self, counts: Floats, mu: Floats, use: Floats) -> tuple[Floats, Floats]:
        """Robust method-of-moments ``(delta, phi)`` per period over the trailing window.

        The negative binomial is the *body* of a bucket's distribution; its tail is the
        calibration's (``alerts.calibration``). Plain moments let the tail in: the
        shoulders of one big story (its unflagged hours, 300 stories where 15 were usual)
        outweighed two weeks of ordinary buckets, the fitted spread grew tenfold, and the
        next story went unseen. So each bucket's squared residual is capped at
        ``ROBUST_SD`` standard deviations of the fit before (winsorised moments, Huber's
        device), starting from the plain fit and refitted ``ROBUST_STEPS`` times: a fit
        from above, never below what the body says."""
        m = mu * use
        # What the steps share: buckets and the powers of ``mu`` over the trailing window.
        sums = tuple(self._window_sum(values) for values in (use, m, m * mu, m * mu * mu))
        excess = (counts - mu) ** 2 - counts
        delta, phi = self._moments(excess * use, mu, sums)
        for _ in range(ROBUST_STEPS):
            var = mu * (1.0 + self.from_periods(delta)) + self.from_periods(phi) * mu * mu
            cap = ROBUST_SD**2 * np.maximum(var, 1.0)
            delta, phi = self._moments(np.minimum(excess, cap - mu) * use, mu, sums)
        return delta, phi

    def _window_sum(self, values: Floats) -> Floats:
        """Per period, the sum of ``values`` over the history window before it."""
        return trailing_sum(self.per_period(values), self.layout.window)

    def _moments(
        self, excess: Floats, mu: Floats, sums: tuple[Floats, ...]
    ) -> tuple[Floats, Floats]:
        """``(delta, phi)`` per period from the trailing excess variances ``excess``
        (``sums``: the window's buckets and sums of ``mu``, ``mu^2`` and ``mu^3``).

        The excess (``(y - mu)^2 - y`` unbiasedly estimates the variance beyond Poisson)
        is fitted as ``delta mu + phi mu^2`` by least squares weighted by ``1 / mu`` (the
        normal equations are ``sum e = delta sum mu + phi sum mu^2`` and ``sum e mu =
        delta sum mu^2 + phi sum mu^3``: the first keeps the total excess right, and
        nothing divides by a tiny ``mu``). Both terms are floored at 0 (refitting the
        other alone) and shrunk toward the priors (``clump_prior``, ``dispersion_prior``)
        with ``dispersion_weight`` pseudo-buckets."""
        p = self.params
        n, s1, s2, s3 = sums
        e0, e1 = self._window_sum(excess), self._window_sum(excess * mu)
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
        # Worth ``dispersion_weight`` buckets, but never more than a quarter of the
        # window: in daily buckets 24 were most of four weeks, and a cluster of 50 a
        # day whose days barely varied was still judged as if they wandered by a third.
        # Clumps keep their full prior weight (sparse series need it, see above).
        phi_weight = min(weight, self.layout.window * self.layout.per_period / PHI_FRACTION)
        phi = (n * phi + phi_weight * p.dispersion_prior) / (n + phi_weight)
        delta = (n * delta + weight * p.clump_prior) / (n + weight)
        return delta, phi
