"""Reference detectors to score beside mediawatch in the same run.

``windowed_gaussian`` is NAB's ``windowedGaussian`` detector: each value is compared
with the mean and (population) standard deviation of the up to 1000 values before it,
the window sliding one row at a time, with a zero deviation replaced by 1e-6.

Its one non-obvious rule: NAB's anomaly score is nupic's Q-function table rounded to
a tenth of a standard deviation, and NAB's optimised standard-profile threshold is 1.0,
which that score reaches only beyond 7.05 standard deviations (``round(10 z) > 70``).
As published the score reaches 1.0 only *below* the mean (a quirk of nupic's
``normalProbability``); a spike detector must see rises, so this baseline fires on
either side, ``|z| >= 7.05``. ``direction="down"`` reproduces the published quirk.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

NAB_WINDOW = 1000
# NAB's optimised standard-profile threshold 1.0, as a z-score (see the docstring).
NAB_Z_THRESHOLD = 7.05
_MIN_STD = 1e-6
_CHUNK_ROWS = 2048


def trailing_z_scores(values: np.ndarray, window: int = NAB_WINDOW) -> np.ndarray:
    """``(x[i] - mean) / std`` over the ``window`` values before ``i``; 0 for the first row."""
    values = np.asarray(values, dtype=float)
    z = np.zeros(len(values))
    if len(values) < 2:
        return z
    # Exact sliding statistics (not running sums): flat series must give std exactly 0.
    padded = np.concatenate([np.full(window - 1, np.nan), values[:-1]])
    views = np.lib.stride_tricks.sliding_window_view(padded, window)
    for begin in range(1, len(values), _CHUNK_ROWS):
        stop = min(begin + _CHUNK_ROWS, len(values))
        block = views[begin - 1 : stop - 1]  # row i sees values up to i - 1
        mean = np.nanmean(block, axis=1)
        std = np.nanstd(block, axis=1)
        std[std == 0.0] = _MIN_STD
        z[begin:stop] = (values[begin:stop] - mean) / std
    return z


def windowed_gaussian(
    values: np.ndarray,
    window: int = NAB_WINDOW,
    z_threshold: float = NAB_Z_THRESHOLD,
    direction: Literal["both", "up", "down"] = "both",
) -> np.ndarray:
    """Row indices where the windowed Gaussian fires (every such row, as NAB counts)."""
    z = trailing_z_scores(values, window)
    if direction == "up":
        fired = z >= z_threshold
    elif direction == "down":
        fired = -z >= z_threshold
    else:
        fired = np.abs(z) >= z_threshold
    return np.flatnonzero(fired)
