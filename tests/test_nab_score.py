"""The NAB-style scorer that ``bench detect`` uses to judge the spike detector.

Hand-built series: 1000 five-minute rows (probation is the first 150), windows of 51
rows, so every expected figure below follows from NAB's rule by hand.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.nab import (
    STANDARD,
    Labelled,
    load_corpus,
    probation_rows,
    scaled_sigmoid,
    score_corpus,
    score_file,
)

START = datetime(2014, 4, 1)
STEP = timedelta(minutes=5)
ROWS = 1000


def at(row: int) -> datetime:
    return START + row * STEP


def series(*windows: tuple[int, int]) -> Labelled:
    return Labelled(
        timestamps=tuple(at(i) for i in range(ROWS)),
        windows=tuple((at(left), at(right)) for left, right in windows),
    )


TWO_WINDOWS = series((300, 350), (700, 750))


def test_perfect_detector_scores_100() -> None:
    score = score_file(TWO_WINDOWS, [at(300), at(700)])

    assert score.normalised == pytest.approx(100.0)
    assert score.detected_windows == 2


def test_silent_detector_scores_0() -> None:
    score = score_file(TWO_WINDOWS, [])

    assert score.raw == pytest.approx(-2.0)
    assert score.normalised == pytest.approx(0.0)


def test_detection_at_a_windows_end_is_worth_about_nothing() -> None:
    late = score_file(series((300, 350)), [at(350)])

    # Worth ~0.1 of a window (vs 1.0 at its start), so the window is nearly a miss.
    assert late.raw == pytest.approx(scaled_sigmoid(-1 / 51) / scaled_sigmoid(-1.0))
    assert 0 < late.raw < 0.1


def test_a_false_positive_with_no_window_before_it_costs_0_11() -> None:
    score = score_file(TWO_WINDOWS, [at(300), at(700), at(200)])

    assert score.raw == pytest.approx(2.0 - 0.11)
    assert score.false_positives == 1


def test_a_false_positive_just_after_a_window_costs_less() -> None:
    just_after = score_file(TWO_WINDOWS, [at(300), at(700), at(352)])
    far_after = score_file(TWO_WINDOWS, [at(300), at(700), at(600)])

    # NAB's rule: position (352 - 350) / (51 - 1) past the window, weighted by A_FP.
    assert just_after.raw == pytest.approx(2.0 + 0.11 * scaled_sigmoid(2 / 50))
    assert far_after.raw == pytest.approx(2.0 - 0.11)  # 5 window-widths on: the full cost
    assert far_after.raw < just_after.raw < 2.0


def test_only_the_first_detection_in_a_window_counts() -> None:
    early = score_file(TWO_WINDOWS, [at(300), at(700)])
    with_later = score_file(TWO_WINDOWS, [at(300), at(330), at(349), at(700)])
    late_only = score_file(TWO_WINDOWS, [at(330), at(700)])

    assert with_later.raw == pytest.approx(early.raw)
    assert with_later.false_positives == 0
    assert late_only.raw < early.raw


def test_detections_in_probation_are_ignored() -> None:
    assert probation_rows(ROWS) == 150
    quiet = score_file(TWO_WINDOWS, [at(300), at(700)])
    noisy_start = score_file(TWO_WINDOWS, [at(0), at(10), at(149), at(300), at(700)])

    assert noisy_start.raw == pytest.approx(quiet.raw)
    assert noisy_start.false_positives == 0


def test_probation_is_capped_at_750_rows() -> None:
    assert probation_rows(10320) == 750
    assert probation_rows(4032) == math.floor(0.15 * 4032)


def test_timestamps_between_rows_fall_on_the_row_before() -> None:
    exact = score_file(TWO_WINDOWS, [at(300), at(700)])
    between = score_file(TWO_WINDOWS, [at(300) + timedelta(minutes=2), at(700)])

    assert between.raw == pytest.approx(exact.raw)


def test_corpus_sums_raw_scores_before_normalising() -> None:
    corpus = {"a.csv": series((300, 350)), "b.csv": series((300, 350), (700, 750))}
    # a: found at the start (+1); b: both missed (-2). Raw -1, null -3, perfect 3.
    score = score_corpus(corpus, {"a.csv": [at(300)]})

    assert score.raw == pytest.approx(-1.0)
    assert score.normalised == pytest.approx(100 * (-1 + 3) / (3 + 3))
    # The mean of per-file scores (100 and 0) would say 50: NAB does not average.
    assert score.normalised != pytest.approx(50.0)


def test_a_file_without_windows_has_no_normalised_score_but_counts_false_positives() -> None:
    score = score_file(series(), [at(500), at(600)])

    assert score.normalised is None
    assert score.false_positives == 2
    assert score.raw == pytest.approx(-2 * STANDARD.fp)


def test_load_corpus_reads_nab_layout(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    rows = "\n".join(f"{at(i):%Y-%m-%d %H:%M:%S},{i}" for i in range(ROWS))
    (tmp_path / "real" / "s.csv").write_text("timestamp,value\n" + rows + "\n")
    (tmp_path / "windows.json").write_text(
        '{"real/s.csv": [["2014-04-02 01:00:00.000000", "2014-04-02 05:10:00.000000"]]}'
    )

    corpus = load_corpus(tmp_path)

    assert corpus["real/s.csv"].windows == ((at(300), at(350)),)
    assert score_corpus(corpus, {"real/s.csv": [at(300)]}).normalised == pytest.approx(100.0)


rows_strategy = st.lists(st.integers(0, ROWS - 1), max_size=20)


@settings(max_examples=60, deadline=None)
@given(detected=rows_strategy, extra=st.integers(0, 50))
def test_a_second_detection_in_a_detected_window_changes_nothing(
    detected: list[int], extra: int
) -> None:
    base = [at(row) for row in [*detected, 300]]
    before = score_file(TWO_WINDOWS, base)
    after = score_file(TWO_WINDOWS, [*base, at(300 + extra)])

    assert after.raw == pytest.approx(before.raw)


@settings(max_examples=60, deadline=None)
@given(detected=rows_strategy, far=st.integers(150, 299) | st.integers(501, 699))
def test_a_far_false_positive_never_raises_the_score(detected: list[int], far: int) -> None:
    before = score_file(TWO_WINDOWS, [at(row) for row in detected])
    after = score_file(TWO_WINDOWS, [at(row) for row in [*detected, far]])

    assert after.raw <= before.raw + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 5)), min_size=1, max_size=5))
def test_bench_seed_lists_read_single_seeds_and_ranges(parts: list[tuple[int, int]]) -> None:
    """``bench_detect.py --tweet-seeds 55,57-60`` is the seeds written, in order."""
    from bench.bench_detect import seed_list

    text = ",".join(f"{low}" if span == 0 else f"{low}-{low + span}" for low, span in parts)
    expected = [seed for low, span in parts for seed in range(low, low + span + 1)]
    assert seed_list(text) == expected
