"""The suite's metrics against hand-computed values and scikit-learn, with weights as repeat counts."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from pytest_xares.heads.metrics import (
    Outcome,
    average_precision,
    bootstrap_interval,
    f1_from_counts,
    map_outcome,
    mean_squared_error,
    pearson,
    regression_outcome,
    segment_counts,
    segment_f1_outcome,
    segment_frames,
    wer_outcome,
    word_errors,
)
from pytest_xares.task import Unavailable


def multilabel(seed: int, clips: int = 300, classes: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Scores rounded to one decimal (so many ties) and targets loosely following them."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((clips, classes)), 1)
    targets = (rng.random((clips, classes)) < 0.3 + 0.4 * scores).astype(np.int64)
    return scores, targets


# --- average precision --------------------------------------------------------------------------


def test_average_precision_by_hand() -> None:
    # ranks 1..4 with positives at 1 and 3: (1/1 + 2/3) / 2
    scores = np.array([[0.9], [0.8], [0.7], [0.6]])
    assert average_precision(scores, np.array([[1], [0], [1], [0]]))[0] == pytest.approx(5 / 6)


def test_average_precision_groups_ties_into_one_threshold() -> None:
    # thresholds 0.9 (R 1/2, P 1) and 0.5 (R 1, P 2/3): the tied pair is counted together
    scores = np.array([[0.9], [0.5], [0.5], [0.1]])
    assert average_precision(scores, np.array([[1], [1], [0], [0]]))[0] == pytest.approx(0.5 + 0.5 * 2 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_equals_sklearn_with_ties(seed: int) -> None:
    scores, targets = multilabel(seed)
    expected = [average_precision_score(targets[:, c], scores[:, c]) for c in range(scores.shape[1])]
    np.testing.assert_allclose(average_precision(scores, targets), expected, rtol=1e-12)


def test_average_precision_weights_equal_sklearn_sample_weight() -> None:
    scores, targets = multilabel(3)
    weights = np.random.default_rng(3).random(len(scores)) * 3
    weights[::7] = 0.0
    expected = [
        average_precision_score(targets[:, c], scores[:, c], sample_weight=weights) for c in range(scores.shape[1])
    ]
    np.testing.assert_allclose(average_precision(scores, targets, weights), expected, rtol=1e-10)


def test_average_precision_weights_equal_duplicated_rows() -> None:
    scores, targets = multilabel(4, clips=50)
    counts = np.random.default_rng(4).integers(0, 4, len(scores))
    counts[:2] = [2, 1]
    rows = np.repeat(np.arange(len(scores)), counts)
    np.testing.assert_allclose(
        average_precision(scores, targets, counts.astype(float)),
        average_precision(scores[rows], targets[rows]),
        rtol=1e-12,
    )


def test_average_precision_of_a_class_without_positives_is_nan() -> None:
    scores, targets = multilabel(5)
    targets[:, 2] = 0
    ap = average_precision(scores, targets)
    assert np.isnan(ap[2]) and not np.any(np.isnan(np.delete(ap, 2)))


def test_average_precision_of_a_class_whose_positives_weigh_nothing_is_nan() -> None:
    scores = np.array([[0.9], [0.1]])
    assert np.isnan(average_precision(scores, np.array([[1], [0]]), np.array([0.0, 3.0]))[0])


def test_average_precision_of_no_clips_is_nan() -> None:
    assert np.isnan(average_precision(np.zeros((0, 3)), np.zeros((0, 3)))).all()


def test_average_precision_rejects_bad_inputs() -> None:
    scores, targets = multilabel(6, clips=10)
    with pytest.raises(ValueError, match="clips, classes"):
        average_precision(scores, targets[:, :2])
    with pytest.raises(ValueError, match="unit weights"):
        average_precision(scores, targets, np.ones(9))
    with pytest.raises(ValueError, match="non-negative"):
        average_precision(scores, targets, -np.ones(10))


def test_map_outcome_leaves_classes_without_positives_out() -> None:
    scores, targets = multilabel(7)
    targets[:, 0] = 0
    outcome = map_outcome(scores, targets)
    expected = np.mean([average_precision_score(targets[:, c], scores[:, c]) for c in range(1, scores.shape[1])])
    assert outcome.score == pytest.approx(expected)
    assert outcome.units == len(scores) and outcome.extra == {}


def test_map_outcome_rescore_weights_clips() -> None:
    scores, targets = multilabel(8, clips=60)
    counts = np.random.default_rng(8).integers(0, 3, len(scores)).astype(float)
    outcome = map_outcome(scores, targets)
    assert outcome.rescore(counts) == pytest.approx(np.nanmean(average_precision(scores, targets, counts)))


def test_map_outcome_without_any_positive_is_an_error() -> None:
    scores, targets = multilabel(9, clips=10)
    with pytest.raises(ValueError, match="no class has one"):
        map_outcome(scores, np.zeros_like(targets))


def test_map_rescore_of_a_draw_without_positives_is_nan() -> None:
    outcome = map_outcome(np.array([[0.9], [0.1]]), np.array([[1], [0]]))
    assert np.isnan(outcome.rescore(np.array([0.0, 2.0])))


# --- regression ---------------------------------------------------------------------------------


def test_pearson_equals_numpy_corrcoef() -> None:
    rng = np.random.default_rng(10)
    targets = rng.random(100) * 10
    predicted = targets + rng.normal(0, 2, 100)
    assert pearson(predicted, targets) == pytest.approx(np.corrcoef(predicted, targets)[0, 1])


def test_pearson_by_hand() -> None:
    assert pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])) == pytest.approx(1.0)
    assert pearson(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    # centred: p = (-1, 0, 1), t = (-1, 2, -1) → Σpt = 0
    assert pearson(np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0, 1.0])) == pytest.approx(0.0)


def test_regression_weights_equal_duplication() -> None:
    rng = np.random.default_rng(11)
    predicted, targets = rng.random(30), rng.random(30)
    counts = rng.integers(0, 4, 30)
    counts[:2] = [2, 1]
    rows = np.repeat(np.arange(30), counts)
    weights = counts.astype(float)
    assert pearson(predicted, targets, weights) == pytest.approx(pearson(predicted[rows], targets[rows]))
    assert mean_squared_error(predicted, targets, weights) == pytest.approx(
        mean_squared_error(predicted[rows], targets[rows])
    )


def test_pearson_of_a_constant_prediction_is_zero() -> None:
    targets = np.array([1.0, 5.0, 7.0])
    assert pearson(np.full(3, 0.1), targets) == 0.0
    # constant among the units that are drawn
    assert pearson(np.array([0.1, 0.1, 9.0]), targets, np.array([2.0, 1.0, 0.0])) == 0.0
    assert pearson(targets, np.full(3, 4.0)) == 0.0


def test_mean_squared_error_by_hand() -> None:
    assert mean_squared_error(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0])) == pytest.approx(5 / 3)
    assert mean_squared_error(
        np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0])
    ) == pytest.approx(5 / 2)


def test_regression_outcome() -> None:
    predicted, targets = np.array([1.0, 2.0, 4.0, 3.0]), np.array([1.0, 3.0, 4.0, 2.0])
    outcome = regression_outcome(predicted, targets)
    assert outcome.score == pytest.approx(np.corrcoef(predicted, targets)[0, 1])
    assert outcome.extra == {"mse": pytest.approx(0.5)}
    assert outcome.units == 4
    assert outcome.rescore(np.array([1.0, 0.0, 1.0, 0.0])) == pytest.approx(1.0)


def test_regression_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="3 predictions for 2 targets"):
        pearson(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        mean_squared_error(np.zeros(0), np.zeros(0))


# --- segment F1 ---------------------------------------------------------------------------------

# 2 classes, 5 frames; segments of 2 frames: [0, 1], [2, 3], [4]
PROBABILITIES = np.array([[0.9, 0.1], [0.2, 0.1], [0.1, 0.6], [0.1, 0.1], [0.7, 0.2]])
TARGETS = np.array([[0, 0], [1, 0], [0, 0], [0, 1], [0, 1]])


def test_segment_counts_by_hand() -> None:
    # predicted segments: class 0 [1, 0, 1], class 1 [0, 1, 0]; true: class 0 [1, 0, 0], class 1 [0, 1, 1]
    tp, fp, fn = segment_counts([PROBABILITIES], [TARGETS], 2)
    np.testing.assert_array_equal(tp, [[1, 1]])
    np.testing.assert_array_equal(fp, [[1, 0]])
    np.testing.assert_array_equal(fn, [[0, 1]])


def test_segment_counts_with_one_frame_segments() -> None:
    tp, fp, fn = segment_counts([PROBABILITIES], [TARGETS], 1)
    np.testing.assert_array_equal(tp, [[0, 0]])
    np.testing.assert_array_equal(fp, [[2, 1]])
    np.testing.assert_array_equal(fn, [[1, 2]])


def test_segment_counts_threshold_is_strict() -> None:
    tp, fp, _ = segment_counts([np.array([[0.5]])], [np.array([[1]])], 1)
    assert tp[0, 0] == 0 and fp[0, 0] == 0
    tp, _, _ = segment_counts([np.array([[0.5]])], [np.array([[1]])], 1, threshold=0.4)
    assert tp[0, 0] == 1


def test_segment_counts_of_a_clip_shorter_than_a_segment_and_of_an_empty_clip() -> None:
    short = np.array([[0.9, 0.0], [0.0, 0.0]])
    tp, fp, fn = segment_counts([short, np.zeros((0, 2))], [np.array([[0, 0], [1, 1]]), np.zeros((0, 2))], 10)
    np.testing.assert_array_equal(tp, [[1, 0], [0, 0]])
    np.testing.assert_array_equal(fp, [[0, 0], [0, 0]])
    np.testing.assert_array_equal(fn, [[0, 1], [0, 0]])


def test_segment_counts_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        segment_counts([PROBABILITIES], [TARGETS], 0)
    with pytest.raises(ValueError, match="clip 0"):
        segment_counts([PROBABILITIES], [TARGETS[:4]], 2)
    with pytest.raises(ValueError, match="1 clips of probabilities for 2"):
        segment_counts([PROBABILITIES], [TARGETS, TARGETS], 2)


def test_f1_from_counts_by_hand() -> None:
    tp, fp, fn = np.array([1, 0]), np.array([0, 0]), np.array([0, 0])
    assert f1_from_counts(tp, fp, fn, "micro") == 1.0
    assert f1_from_counts(tp, fp, fn, "macro") == 0.5  # the class never present nor predicted counts 0
    tp, fp, fn = np.array([3, 1]), np.array([1, 0]), np.array([0, 3])
    assert f1_from_counts(tp, fp, fn, "micro") == pytest.approx(8 / 12)
    assert f1_from_counts(tp, fp, fn, "macro") == pytest.approx((6 / 7 + 2 / 5) / 2)


def test_f1_from_counts_with_nothing_at_all_is_zero() -> None:
    zeros = np.zeros(3)
    assert f1_from_counts(zeros, zeros, zeros, "micro") == 0.0
    assert f1_from_counts(zeros, zeros, zeros, "macro") == 0.0


def test_f1_from_counts_rejects_an_unknown_average() -> None:
    with pytest.raises(ValueError, match="macro"):
        f1_from_counts(np.ones(1), np.ones(1), np.ones(1), "weighted")  # type: ignore[arg-type]


def reference_segments(frames: np.ndarray, size: int) -> np.ndarray:
    """Segment activity by a plain loop, independent of the implementation under test."""
    return np.array([frames[start : start + size].max(axis=0) for start in range(0, len(frames), size)]).reshape(
        -1, frames.shape[1]
    )


def random_clips(seed: int, classes: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Clips of various lengths (0 and shorter than a segment among them); class 3 never occurs."""
    rng = np.random.default_rng(seed)
    lengths = [0, 3, 17, 40, 41, 9, 60]
    probabilities = [rng.random((t, classes)) for t in lengths]
    targets = [(rng.random((t, classes)) < 0.3).astype(np.int64) for t in lengths]
    for clip in targets:
        clip[:, 3] = 0
    for clip in probabilities:
        clip[:, 3] *= 0.4
    return probabilities, targets


@pytest.mark.parametrize("average", ["macro", "micro"])
@pytest.mark.parametrize("size", [1, 4, 10])
def test_segment_f1_equals_sklearn(average: str, size: int) -> None:
    probabilities, targets = random_clips(size)
    y_true = np.concatenate([reference_segments(t, size) for t in targets])
    y_pred = np.concatenate([reference_segments((p > 0.5).astype(np.int64), size) for p in probabilities])
    expected = f1_score(y_true, y_pred, average=average, zero_division=0.0)
    outcome = segment_f1_outcome(probabilities, targets, size, average)  # type: ignore[arg-type]
    assert outcome.score == pytest.approx(expected)
    assert outcome.units == len(targets)


def test_segment_f1_with_no_events_at_all() -> None:
    probabilities, targets = random_clips(20)
    targets = [np.zeros_like(t) for t in targets]
    assert segment_f1_outcome(probabilities, targets, 4, "micro").score == 0.0
    assert segment_f1_outcome(probabilities, targets, 4, "macro").score == 0.0


def test_segment_f1_rescore_weights_each_clips_counts() -> None:
    probabilities, targets = random_clips(21)
    counts = np.array([1.0, 0.0, 2.0, 1.0, 3.0, 0.0, 1.0])
    rows = np.repeat(np.arange(len(targets)), counts.astype(int))
    for average in ("macro", "micro"):
        outcome = segment_f1_outcome(probabilities, targets, 4, average)  # type: ignore[arg-type]
        duplicated = segment_f1_outcome([probabilities[i] for i in rows], [targets[i] for i in rows], 4, average)  # type: ignore[arg-type]
        assert outcome.rescore(counts) == pytest.approx(duplicated.score)


def test_segment_f1_of_no_clips_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        segment_f1_outcome([], [], 4, "macro")


@pytest.mark.parametrize(
    ("segment", "hop", "frames"),
    [
        (1.0, 0.02, 50),
        (0.1, 0.01, 10),
        (0.1, 0.04, 3),
        (1.0, 1 / 3, 3),
        (0.3, 0.1, 3),
        (0.005, 0.01, 1),
        (0.02, 0.02, 1),
    ],
)
def test_segment_frames(segment: float, hop: float, frames: int) -> None:
    assert segment_frames(segment, hop) == frames


def test_segment_frames_rejects_non_positive_durations() -> None:
    with pytest.raises(ValueError, match="positive"):
        segment_frames(0.0, 0.01)


# --- word error rate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat", "the cat sat", (0, 3)),
        ("the cat sat", "the bat sat", (1, 3)),  # substitution
        ("the cat sat", "the sat", (1, 3)),  # deletion
        ("the cat sat", "the cat sat down", (1, 3)),  # insertion
        ("the cat sat", "cat sat on it", (3, 3)),  # one deletion, two insertions
        ("THE Cat sat", "the cat SAT", (0, 3)),  # case ignored
        ("  the \t cat\nsat ", "the cat   sat", (0, 3)),  # whitespace normalised
        ("", "the cat", (2, 0)),  # empty reference: all insertions
        ("   ", "", (0, 0)),
        ("the cat sat", "  ", (3, 3)),  # empty hypothesis: all deletions
    ],
)
def test_word_errors(reference: str, hypothesis: str, expected: tuple[int, int]) -> None:
    assert word_errors(reference, hypothesis) == expected


def test_wer_outcome() -> None:
    # errors (0, 3) over words (2, 4): WER 1/2
    outcome = wer_outcome(["a b", "c x"], ["A B", "c d e f"])
    assert outcome.score == pytest.approx(0.5)
    assert outcome.extra == {"wer": pytest.approx(0.5)}
    assert outcome.units == 2
    assert outcome.rescore(np.array([2.0, 0.0])) == 1.0
    assert outcome.rescore(np.array([0.0, 1.0])) == pytest.approx(0.25)
    assert outcome.rescore(np.array([1.0, 3.0])) == pytest.approx(1 - 9 / 14)


def test_wer_over_one_scores_zero() -> None:
    outcome = wer_outcome(["b c d"], ["a"])
    assert outcome.score == 0.0
    assert outcome.extra == {"wer": pytest.approx(3.0)}


def test_wer_counts_an_empty_reference_as_insertions() -> None:
    outcome = wer_outcome(["x y", "a b"], ["", "a b c d"])
    assert outcome.extra == {"wer": pytest.approx(4 / 4)}
    assert np.isnan(outcome.rescore(np.array([1.0, 0.0])))  # a draw without reference words


def test_wer_without_reference_words_is_an_error() -> None:
    with pytest.raises(ValueError, match="without reference words"):
        wer_outcome(["a"], [""])
    with pytest.raises(ValueError, match="without reference words"):
        wer_outcome([], [])
    with pytest.raises(ValueError, match="2 hypotheses for 1"):
        wer_outcome(["a", "b"], ["a"])


def test_word_errors_without_jiwer_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jiwer", None)
    with pytest.raises(Unavailable, match=r"pytest-xares\[asr\]"):
        word_errors("a", "b")


# --- all outcomes -------------------------------------------------------------------------------


def every_outcome() -> list[Outcome]:
    scores, targets = multilabel(30)
    rng = np.random.default_rng(30)
    probabilities, frames = random_clips(30)
    return [
        map_outcome(scores, targets),
        regression_outcome(rng.random(20), rng.random(20)),
        segment_f1_outcome(probabilities, frames, 4, "macro"),
        segment_f1_outcome(probabilities, frames, 4, "micro"),
        wer_outcome(["a b c", "d e", "x"], ["a b d", "d e f", "x y z"]),
    ]


@pytest.mark.parametrize("index", range(5))
def test_rescore_with_every_unit_once_is_the_score(index: int) -> None:
    outcome = every_outcome()[index]
    assert outcome.rescore(np.ones(outcome.units)) == outcome.score
    assert all(isinstance(value, float) for value in outcome.extra.values())


def test_bootstrap_interval_of_map_brackets_the_score_and_is_reproducible() -> None:
    outcome = map_outcome(*multilabel(31, clips=200, classes=5))
    low, high = bootstrap_interval([outcome], seed=5, resamples=200)
    assert low < outcome.score < high
    assert bootstrap_interval([outcome], seed=5, resamples=200) == (low, high)
    assert bootstrap_interval([outcome], seed=6, resamples=200) != (low, high)
