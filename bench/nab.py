"""A NAB-style scorer (Numenta Anomaly Benchmark) for detection timestamps.

Written from NAB's documented rule (``nab/sweeper.py`` and ``nab/runner.py`` in
github.com/numenta/NAB), for a detector that reports *when* it fired rather than a
score per row:

1. Each detection falls on the row whose timestamp is the last one at or before it.
   Rows, not detections, are scored: two detections on one row are one.
2. The first ``min(floor(0.15 * rows), 0.15 * 5000)`` rows of a file are probation:
   detections there count nothing, and a window lying wholly inside it is not scored.
3. Inside a window ``[left, right]`` (row indices, width ``right - left + 1``) a
   detection on row ``i`` sits at ``-(right - i + 1) / width`` (-1 at the window's
   start, just below 0 at its end) and is worth ``A_TP * σ(position) / σ(-1)``,
   where ``σ(p) = 2 / (1 + e^(5p)) - 1``. Only the best, that is the earliest,
   detection of a window counts; a window with none costs ``-A_FN``.
4. A detection outside every window costs ``A_FP * σ(position)`` with position
   ``(i - right) / (width - 1)`` of the preceding window (so just after a window it
   costs almost nothing), or 3 (the full ``-A_FP``) when no window precedes it.
   Positions from 3 on count -1.
5. A corpus sums the files' raw scores, then normalises once:
   ``100 * (raw - null) / (perfect - null)``, where null is the raw score of a
   detector that never fires and perfect is ``A_TP`` per labelled window.

The one rule that is easy to get wrong: NAB sums raw scores *before* normalising, so
the corpus score is not the mean of the per-file scores.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROBATION_PERCENT = 0.15
# NAB's probation never exceeds 15 % of 5000 rows.
PROBATION_CAP_ROWS = PROBATION_PERCENT * 5000
# Positions at or past this are "far": the full false-positive cost.
FAR_POSITION = 3.0


@dataclass(frozen=True)
class Profile:
    """NAB's cost matrix, as positive weights (NAB's ``tpWeight`` etc.)."""

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0


STANDARD = Profile()
REWARD_LOW_FP = Profile(tp=1.0, fp=0.22, fn=1.0)
REWARD_LOW_FN = Profile(tp=1.0, fp=0.11, fn=2.0)

Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Labelled:
    """One series: its row timestamps (sorted) and its labelled anomaly windows."""

    timestamps: tuple[datetime, ...]
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class FileScore:
    """The raw NAB score of one file and what it is made of."""

    raw: float
    null: float
    perfect: float
    windows: int
    detected_windows: int
    false_positives: int

    @property
    def normalised(self) -> float | None:
        """100 for perfect, 0 for silent; None for a file without windows."""
        return normalise(self.raw, self.null, self.perfect)


@dataclass(frozen=True)
class CorpusScore:
    """Raw scores summed over files, normalised once (NAB's rule)."""

    files: Mapping[str, FileScore]

    @property
    def raw(self) -> float:
        return sum(f.raw for f in self.files.values())

    @property
    def null(self) -> float:
        return sum(f.null for f in self.files.values())

    @property
    def perfect(self) -> float:
        return sum(f.perfect for f in self.files.values())

    @property
    def normalised(self) -> float | None:
        return normalise(self.raw, self.null, self.perfect)


def scaled_sigmoid(position: float) -> float:
    """NAB's weight of a detection at ``position``: ~+1 at -1, 0 at 0, -1 from 3 on."""
    if position >= FAR_POSITION:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """How many leading rows are not scored (NAB: 15 %, at most 750)."""
    return min(math.floor(percent * n_rows), percent * 5000)


def normalise(raw: float, null: float, perfect: float) -> float | None:
    """``100 * (raw - null) / (perfect - null)``; None when there is nothing to find."""
    if perfect == null:
        return None
    return 100.0 * (raw - null) / (perfect - null)


def score_file(
    labelled: Labelled, detections: Iterable[datetime], profile: Profile = STANDARD
) -> FileScore:
    """The NAB score of one file for detections given as timestamps."""
    stamps = labelled.timestamps
    probation = probation_rows(len(stamps))
    spans = _window_rows(stamps, labelled.windows)
    scored = [(left, right) for left, right in spans if right >= probation]
    best: dict[tuple[int, int], float] = {span: -profile.fn for span in scored}
    false_positives = 0
    fp_cost = 0.0
    max_tp = scaled_sigmoid(-1.0)
    for row in _detected_rows(stamps, detections):
        if row < probation:
            continue
        span = _containing(spans, row)
        if span is not None:
            left, right = span
            width = right - left + 1
            worth = scaled_sigmoid(-(right - row + 1) / width) * profile.tp / max_tp
            best[span] = max(best[span], worth)
            continue
        false_positives += 1
        previous = _preceding(spans, row)
        if previous is None:
            position = FAR_POSITION
        else:
            left, right = previous
            # A one-row window would divide by zero in NAB; treat it as two rows wide.
            position = (row - right) / max(right - left, 1)
        fp_cost += scaled_sigmoid(position) * profile.fp
    raw = sum(best.values()) + fp_cost
    detected = sum(1 for span in scored if best[span] > -profile.fn)
    return FileScore(
        raw=raw,
        null=-profile.fn * len(scored),
        perfect=profile.tp * len(labelled.windows),
        windows=len(labelled.windows),
        detected_windows=detected,
        false_positives=false_positives,
    )


def score_corpus(
    corpus: Mapping[str, Labelled],
    detections: Mapping[str, Iterable[datetime]],
    profile: Profile = STANDARD,
) -> CorpusScore:
    """Score every file of ``corpus``; a file missing from ``detections`` never fired."""
    return CorpusScore(
        {name: score_file(lab, detections.get(name, ()), profile) for name, lab in corpus.items()}
    )


def load_corpus(root: Path, windows_file: str = "windows.json") -> dict[str, Labelled]:
    """NAB's layout: ``windows.json`` maps ``dir/file.csv`` to ``[[start, end], ...]``."""
    labels = json.loads((root / windows_file).read_text(encoding="utf-8"))
    return {
        name: Labelled(
            timestamps=tuple(read_timestamps(root / name)),
            windows=tuple(
                (datetime.fromisoformat(start), datetime.fromisoformat(end)) for start, end in spans
            ),
        )
        for name, spans in sorted(labels.items())
    }


def read_timestamps(path: Path) -> list[datetime]:
    """The first column of a CSV with a header row, as datetimes."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        next(rows, None)
        return [datetime.fromisoformat(row[0]) for row in rows if row]


def _window_rows(stamps: Sequence[datetime], windows: Iterable[Window]) -> list[tuple[int, int]]:
    """Each window as (first row, last row) inside it; windows holding no row drop out."""
    spans = []
    for start, end in sorted(windows):
        left = bisect.bisect_left(stamps, start)
        right = bisect.bisect_right(stamps, end) - 1
        if left <= right:
            spans.append((left, right))
    return spans


def _detected_rows(stamps: Sequence[datetime], detections: Iterable[datetime]) -> list[int]:
    """Distinct rows holding a detection, in order; detections before the data drop out."""
    rows = {bisect.bisect_right(stamps, moment) - 1 for moment in detections}
    return sorted(row for row in rows if row >= 0)


def _containing(spans: Sequence[tuple[int, int]], row: int) -> tuple[int, int] | None:
    index = bisect.bisect_right(spans, (row, math.inf)) - 1
    if index >= 0 and spans[index][0] <= row <= spans[index][1]:
        return spans[index]
    return None


def _preceding(spans: Sequence[tuple[int, int]], row: int) -> tuple[int, int] | None:
    """The last window that ended before ``row``."""
    ends = [right for _, right in spans]
    index = bisect.bisect_left(ends, row) - 1
    return spans[index] if index >= 0 else None
