"""Calibrating a model's tail probabilities on a series' own history. Pure: arrays in,
arrays out; the caller says what "trailing" means (``Trailing``: per bucket, the sum of
values over the window before it).

A count model's tail says how surprising a bucket is were the model exact. Real coverage
is wilder than any negative binomial (a cluster that bursts every few days), so the model
is asked how often this series produced buckets that surprising: its *peaks* (scores above
``peak_score``) are counted and their excess fitted with a generalised Pareto, the limit
law of peaks over a threshold (Pickands-Balkema-de Haan; as in the SPOT detector of
Siffer et al., 2017). The rule that matters: calibration is only ever more cautious than
the model, never bolder: the false-alarm budget is a bound, not a quota.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Floats = NDArray[np.float64]
Trailing = Callable[[Floats], Floats]

FLAG_EXCESS = 2.0
MIN_EXCESS_FLAGS = 3.0
"""Flagged runs in the calibration window beyond this many times the threshold's share
(and more than this many) are the series' habit: they count among its peaks. A habit is a
burst that came back at least three times: at two, a cluster with three stories in a
month had its stories called its habit, and a fourth, at twice the usual for two hours,
went unseen in 43 % of series (12 % now, with a story's flickering flags counted as one
burst: ``Calibration.same_burst``; a burst every three days is still a habit)."""
ROBUST_SD = 4.0
"""Squared residuals beyond this many standard deviations count as this many, in the
moment fits of a bucket's spread (``Baseline._dispersion``, ``variance_inflation``)."""
ROBUST_STEPS = 3
"""Refits from the plain fit (three converge: six give the same verdicts)."""
WINSOR = 4.0
"""A run's excess counts as at most this many times the threshold's (see
``calibrated_tail``)."""


@dataclass(frozen=True)
class Calibration:
    threshold: float
    """The per-bucket spike threshold (how many flags the budget allows)."""
    min_count: int
    """A bucket below this count is never a spike, so never a peak."""
    peak_score: float = 1.0
    """Scores (``-log10`` tails) above this are peaks."""
    peak_prior: float = 20.0
    """The model's own tail is worth this many peaks."""
    same_burst: int = 1
    """Flagged runs fewer than this many buckets apart are one burst (a story that
    flickers in and out of the threshold) when flagged bursts are counted."""


def score(tail_probability: ArrayLike) -> Floats:
    """``-log10`` of a tail probability, capped at 300 (a probability that underflowed)."""
    tail = np.clip(np.asarray(tail_probability, dtype=float), 1e-300, 1.0)
    return np.asarray(-np.log10(tail) + 0.0, dtype=float)


def calibrated_tail(
    tail: Floats,
    sample: Floats,
    flagged: Floats,
    counts: Floats,
    trailing: Trailing,
    calibration: Calibration,
) -> Floats:
    """The model's tail probabilities, calibrated on the trailing peaks of the series.

    A bucket's score ``s = -log10(tail)`` above ``u = peak_score`` is a peak (if its
    count could make a spike: at least ``min_count``). Were the model exact, peaks
    would come at rate ``10**-u`` and their excess ``s - u`` would be exponential with
    mean ``1/ln 10``. Real counts have heavier tails, so the rate and the excess are
    fitted on the trailing ``calibration_window``: the excess as a generalised Pareto
    (the limit law of peaks over a threshold, Pickands-Balkema-de Haan; moments, shape
    clipped to [-0.25, 0.45]), both shrunk toward the model's own tail with
    ``peak_prior`` pseudo-runs. The calibrated tail of a peak is
    ``rate * GPD_survival(s - u)``; below ``u`` the model tail is scaled by the same
    rate ratio (those buckets are never spikes at sane thresholds).

    Peaks in a row are one burst, one onset, and the budget is of onsets: the fit is on
    runs of peaks, each counted once where it ends, with its highest excess (runs
    declustering). A run is flagged when its highest bucket is, so the tail of run maxima
    is what the threshold meets; fitted on every peak of a run, a series whose surprises
    last looked tamer than it is.

    ``sample`` marks the unflagged buckets, ``flagged`` the flagged ones. A flagged burst
    still happened: it counts as a run, its excess censored at the threshold's (so one
    real story cannot teach the series that stories are its habit). Left out, the fit
    only saw the bursts that fell short and went on flagging a burst that kept coming
    back. When the window holds more flagged runs than the budget allows (``FLAG_EXCESS``
    times the threshold's share, and more than ``MIN_EXCESS_FLAGS``; runs, as the budget
    counts onsets: one story flags an hour of five-minute buckets, and runs closer than
    ``same_burst`` buckets are one, as a story flickers across the threshold), bursts
    are this series' way, not news, and they count uncensored (as a lasting level shift
    becomes the new normal).

    Every run's excess is winsorised at ``WINSOR`` times the threshold's: the threshold
    asks how often the series is about this surprising, and a moment fit let two or
    three giant stories (scores of 40 and 50 where the threshold is 4) say "scores of 25
    are common here", so the next big story went unseen. A burst that comes back at
    about the same size still counts nearly in full.

    The result is never below the model's own tail: calibration only corrects the model
    where the series is wilder than it thinks."""
    c = calibration
    u = c.peak_score
    scores = score(tail)
    eligible = (scores > u) & (counts >= c.min_count)
    excess = np.where(eligible, scores - u, 0.0)

    n_runs = trailing(run_ends(bridged(flagged > 0, c.same_burst)))
    n_all = trailing(sample) + trailing(flagged)
    too_many = n_runs > np.maximum(MIN_EXCESS_FLAGS, FLAG_EXCESS * c.threshold * n_all)
    weight = sample + flagged * too_many

    # Flags the budget allows count as runs, censored at the threshold (see above).
    censored = flagged * (1.0 - too_many)
    cap = max(-math.log10(c.threshold) - u, 0.0)
    excess = np.where(censored > 0, np.minimum(excess, cap), excess)
    weight = weight + censored
    excess = np.minimum(excess, WINSOR * max(cap, 1.0))  # winsorised (see above)
    runs_ended, run_max = run_maxima(eligible, excess, weight)
    n, k = trailing(weight), trailing(runs_ended)
    s1, s2 = trailing(run_max), trailing(run_max * run_max)
    k0, q0, m0 = c.peak_prior, 10.0**-u, 1.0 / math.log(10)
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


def run_ends(marks: NDArray[np.bool_]) -> Floats:
    """1 where a run of ``marks`` ends along the last axis, else 0."""
    after = np.zeros_like(marks[..., :1])
    return np.asarray(marks & ~np.concatenate([marks[..., 1:], after], axis=-1), dtype=float)


def bridged(marks: NDArray[np.bool_], gap: int) -> NDArray[np.bool_]:
    """``marks`` with every stretch of fewer than ``gap`` unmarked buckets between two
    marked ones filled in, along the last axis."""
    if gap <= 1:
        return marks
    length = marks.shape[-1]
    index = np.broadcast_to(np.arange(length), marks.shape)
    last = np.maximum.accumulate(np.where(marks, index, -length - gap), axis=-1)
    following = np.where(marks, index, 2 * length + gap)
    upcoming = np.flip(np.minimum.accumulate(np.flip(following, -1), axis=-1), -1)
    return np.asarray(marks | (upcoming - last - 1 < gap), dtype=bool)


def run_maxima(peaks: NDArray[np.bool_], excess: Floats, weight: Floats) -> tuple[Floats, Floats]:
    """Per bucket along the last axis: 1 where a run of ``peaks`` ends, and there the
    run's highest ``excess`` among its buckets of positive ``weight`` (0 elsewhere, and
    for a run with none: buckets left out stay out). A run is counted where it
    ends, so a trailing sum over whole earlier periods never reads a run still going on."""
    flat = peaks.reshape(-1, peaks.shape[-1])
    before = np.zeros_like(flat[:, :1])
    starts = flat & ~np.concatenate([before, flat[:, :-1]], axis=1)
    ends = run_ends(flat) > 0
    ended = np.zeros(flat.shape)
    maxima = np.zeros(flat.shape)
    kept = weight.reshape(flat.shape)[flat] > 0
    if kept.size:
        # Runs never cross rows (a row's first bucket starts a run), so, in row-major
        # order, each run is one contiguous stretch of the peaks' values.
        first = np.flatnonzero(starts[flat])
        values = np.where(kept, excess.reshape(flat.shape)[flat], 0.0)
        counted = np.logical_or.reduceat(kept, first)
        ended[ends] = counted
        maxima[ends] = np.where(counted, np.maximum.reduceat(values, first), 0.0)
    return ended.reshape(peaks.shape), maxima.reshape(peaks.shape)


def variance_inflation(
    counts: Floats, mean: Floats, var: Floats, use: Floats, trailing: Trailing, weight: float
) -> Floats:
    """Per bucket, how much more ``counts`` varied around ``mean`` over the trailing window
    (buckets in ``use``) than ``var`` says: a moment ratio, at least 1, shrunk toward 1 with
    ``weight`` pseudo-buckets.

    Winsorised like the spread itself (``ROBUST_SD``, ``ROBUST_STEPS``): the ratio is
    the body's, and the calibration judges the tail. Plain, one burst's hour that stayed
    below the threshold (a bot's 3 buckets at 50 times the usual) counted as much as a
    week of ordinary hours, and the hour test of a busy series stopped seeing stories
    at ten times the usual."""
    squares = (counts - mean) ** 2
    said = trailing(use * var)
    floor = weight * said / np.maximum(trailing(use), 1.0)

    def ratio_of(seen: Floats) -> Floats:
        ratio = (seen + weight) / np.maximum(said + floor, 1e-12)
        return np.maximum(1.0, np.where(said > 0, ratio, 1.0))

    ratio = ratio_of(trailing(use * squares))
    for _ in range(ROBUST_STEPS):
        cap = ROBUST_SD**2 * ratio * np.maximum(var, 1.0)
        ratio = ratio_of(trailing(use * np.minimum(squares, cap)))
    return ratio


def gpd_survival(excess: Floats, shape: Floats, scale: Floats) -> Floats:
    """``P(X > excess)`` for a generalised Pareto with ``shape`` (xi) and ``scale``."""
    z = excess / scale
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base = 1.0 + shape * z
        safe = np.where(np.abs(shape) < 1e-9, 1.0, shape)
        power = np.where(base > 0, np.power(np.maximum(base, 1e-300), -1.0 / safe), 0.0)
    return np.asarray(np.where(np.abs(shape) < 1e-9, np.exp(-z), power), dtype=float)
