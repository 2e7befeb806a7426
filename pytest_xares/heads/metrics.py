"""Scores of the suite, their bootstrap intervals, and the weighted averages over tasks.

A head's test result is an ``Outcome``: its score, and how to recompute that score when the test
units (clips, caption queries, utterances) are drawn again with replacement. Every metric takes
the draw as a count per unit, so a resample is a weighting of what was measured once, never a
second prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np

from pytest_xares.errors import Unavailable


@dataclass(frozen=True)
class Outcome:
    """One fold's test score, and what it takes to recompute it on a resample of the test units.

    ``rescore(counts)`` gives the score when unit ``i`` is drawn ``counts[i]`` times
    (``rescore(np.ones(units))`` is ``score``); ``extra`` holds figures reported beside the score
    (the MSE of a regression, the WER of speech recognition).
    """

    score: float
    units: int
    rescore: Callable[[np.ndarray], float] = field(repr=False)
    extra: dict[str, float] = field(default_factory=dict)
    #: What the score is computed from, unit by unit: the computation's name and its arrays (units
    #: along the first axis), kept in the results file so that two encoders' results on the same
    #: test units can be resampled together (``pytest_xares.results.paired``).
    per_unit: tuple[str, dict[str, np.ndarray]] | None = field(default=None, repr=False)


def accuracy(predicted: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) == 0:
        raise ValueError("accuracy of an empty test set")
    return float(np.mean(np.asarray(predicted) == np.asarray(targets)))


def accuracy_outcome(predicted: np.ndarray, targets: np.ndarray) -> Outcome:
    correct = (np.asarray(predicted) == np.asarray(targets)).astype(np.float64)
    if len(correct) == 0:
        raise ValueError("accuracy of an empty test set")
    return Outcome(
        float(correct.mean()),
        len(correct),
        lambda counts: float(counts @ correct / counts.sum()),
        per_unit=("accuracy", {"correct": correct}),
    )


def mean_outcome(outcomes: Sequence[Outcome]) -> Outcome:
    """The outcome of heads trained with several seeds on one fold: the mean of their scores, on
    every resample of the (shared) test units too, so that its interval is the seed mean's."""
    if len(outcomes) == 1:
        return outcomes[0]
    if len({o.units for o in outcomes}) != 1:
        raise ValueError("outcomes of different test units cannot be averaged")
    return Outcome(
        float(np.mean([o.score for o in outcomes])),
        outcomes[0].units,
        lambda counts: float(np.mean([o.rescore(counts) for o in outcomes])),
        {name: float(np.mean([o.extra[name] for o in outcomes])) for name in outcomes[0].extra},
    )


def bootstrap_interval(
    outcomes: list[Outcome], seed: int, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """The ``level`` percentile interval of the mean over folds of each fold's score, when every
    fold's test units are drawn again with replacement ``resamples`` times."""
    rng = np.random.default_rng(seed)
    draws = np.zeros(resamples)
    for outcome in outcomes:
        uniform = np.full(outcome.units, 1.0 / outcome.units)
        for start in range(0, resamples, 100):  # bounded memory for large test sets
            counts = rng.multinomial(outcome.units, uniform, size=min(100, resamples - start)).astype(np.float64)
            draws[start : start + len(counts)] += [outcome.rescore(c) for c in counts]
    draws /= len(outcomes)
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(draws, [tail, 100 - tail])
    return float(low), float(high)


# --- shared -------------------------------------------------------------------------------------


def _unit_weights(weights: np.ndarray | None, units: int) -> np.ndarray:
    """Per-unit weights as float64 (ones when ``None``), checked to be one non-negative finite
    number per unit: they are bootstrap draw counts, so a negative or missing one is a bug."""
    if weights is None:
        return np.ones(units)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (units,):
        raise ValueError(f"expected {units} unit weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("unit weights must be finite and non-negative")
    return weights


# --- multi-label mean average precision ---------------------------------------------------------


@dataclass(frozen=True)
class _Ranking:
    """What average precision needs of one set of scores and targets, all of it independent of the
    weights, so that a bootstrap ranks once and then only re-sums weights.

    Classes run along rows: ``order`` [C, n] holds each class's clips by descending score. The
    positives are listed class by class in rank order, with ``clip`` and ``label`` their clip and
    class, ``end`` the index into the flattened ranking of the last rank tied with them, ``first``
    the first positive of their class and ``last`` the last positive ranked at or before ``end``.
    """

    order: np.ndarray
    clip: np.ndarray
    label: np.ndarray
    end: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, targets: np.ndarray) -> _Ranking:
        n = len(scores)
        # an unstable sort is safe (and about 3x faster): AP reads a tie group only at its end
        order = np.argsort(-scores.T, axis=1)
        ranked = np.take_along_axis(scores.T, order, axis=1)
        is_end = np.ones(ranked.shape, dtype=bool)
        is_end[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
        # the nearest group end at or after each rank: a running minimum taken from the back
        group_end = np.minimum.accumulate(np.where(is_end, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
        flat = np.flatnonzero(np.take_along_axis(targets.T, order, axis=1) > 0)
        label, rank = np.divmod(flat, n) if n else (flat, flat)
        end = label * n + group_end[label, rank]
        return cls(
            order=order,
            clip=order[label, rank],
            label=label,
            end=end,
            first=np.searchsorted(flat, label * n),
            last=np.searchsorted(flat, end, side="right") - 1,
        )

    def average_precision(self, weights: np.ndarray) -> np.ndarray:
        """Per-class AP with clip ``i`` counted ``weights[i]`` times; NaN where no positive weighs.

        Σ over positives of weight × precision at the end of their tie group, over the positive
        weight: scikit-learn's Σ (ΔR × P) over distinct thresholds, since a threshold's ΔR is the
        weight of the positives in its tie group over all positive weight.
        """
        classes = len(self.order)
        retrieved = np.cumsum(weights[self.order], axis=1).ravel()[self.end]
        positive = weights[self.clip]
        running = np.cumsum(positive)
        # positives retrieved by each one's group end: a difference of one running sum over all classes
        found = running[self.last] - (running[self.first] - positive[self.first])
        # a zero-weight positive with only zero-weight clips above it adds nothing, whatever its precision
        precision = np.divide(found, retrieved, out=np.zeros_like(found), where=retrieved > 0)
        summed = np.bincount(self.label, positive * precision, minlength=classes)
        total = np.bincount(self.label, positive, minlength=classes)
        return np.divide(summed, total, out=np.full(classes, np.nan), where=total > 0)


def _check_multilabel(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ValueError(f"scores and targets must both be [clips, classes], got {scores.shape} and {targets.shape}")
    return scores, targets


def average_precision(scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-class average precision of ``scores`` [n, C] against 0/1 ``targets`` [n, C].

    As scikit-learn's ``average_precision_score`` defines it: the step-wise sum over distinct
    score thresholds of (Δrecall × precision), tied scores making one threshold. ``weights`` [n]
    count each clip that many times (a bootstrap draw). A class without a (weighted) positive has
    no recall to speak of and gets NaN.
    """
    scores, targets = _check_multilabel(scores, targets)
    return _Ranking.of(scores, targets).average_precision(_unit_weights(weights, len(scores)))


def _mean_over_scored(per_class: np.ndarray) -> float:
    """Mean over the classes that have a score; NaN (not a warning) when none has."""
    scored = per_class[~np.isnan(per_class)]
    return float(scored.mean()) if len(scored) else math.nan


def mean_average_precision(scores: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Macro mAP over the classes that have a (weighted) positive; NaN when none has."""
    return _mean_over_scored(average_precision(scores, targets, weights))


def map_outcome(scores: np.ndarray, targets: np.ndarray) -> Outcome:
    """Mean average precision over classes, clips as the units.

    Classes without a positive are left out of the mean: their AP is undefined, not zero (in a
    resample too). With no positive at all the score means nothing, so that is an error.
    """
    scores, targets = _check_multilabel(scores, targets)
    if not np.any(targets > 0):
        raise ValueError("mAP needs at least one positive target; no class has one in this test set")
    ranking = _Ranking.of(scores, targets)

    def rescore(counts: np.ndarray) -> float:
        return _mean_over_scored(ranking.average_precision(np.asarray(counts, dtype=np.float64)))

    return Outcome(
        rescore(np.ones(len(scores))), len(scores), rescore, per_unit=("map", {"scores": scores, "targets": targets})
    )


# --- regression ---------------------------------------------------------------------------------


def _check_regression(
    predicted: np.ndarray, targets: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat float64 predictions, targets and weights, with a positive total weight."""
    predicted = np.ravel(np.asarray(predicted, dtype=np.float64))
    targets = np.ravel(np.asarray(targets, dtype=np.float64))
    if predicted.shape != targets.shape:
        raise ValueError(f"{len(predicted)} predictions for {len(targets)} targets")
    weights = _unit_weights(weights, len(targets))
    if weights.sum() <= 0:
        raise ValueError("regression metric of an empty test set")
    return predicted, targets, weights


def pearson(predicted: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted Pearson correlation of predictions and targets.

    When the predictions (or the targets) that carry weight are all one value the correlation is
    undefined; it is 0.0 here, since a model that predicts one value has no correlation with
    anything, and a NaN would hide that in averages.
    """
    predicted, targets, weights = _check_regression(predicted, targets, weights)
    counted = weights > 0
    # exact test for constancy: a variance computed in floats need not come out exactly zero
    if np.ptp(predicted[counted]) == 0 or np.ptp(targets[counted]) == 0:
        return 0.0
    p = predicted - np.average(predicted, weights=weights)
    t = targets - np.average(targets, weights=weights)
    r = (weights @ (p * t)) / math.sqrt((weights @ (p * p)) * (weights @ (t * t)))
    return float(np.clip(r, -1.0, 1.0))


def mean_squared_error(predicted: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted mean of the squared prediction errors."""
    predicted, targets, weights = _check_regression(predicted, targets, weights)
    return float(np.average((predicted - targets) ** 2, weights=weights))


def regression_outcome(predicted: np.ndarray, targets: np.ndarray) -> Outcome:
    """Pearson correlation as the score, the MSE beside it, clips (utterances) as the units."""
    predicted, targets, _ = _check_regression(predicted, targets, None)
    return Outcome(
        pearson(predicted, targets),
        len(targets),
        lambda counts: pearson(predicted, targets, counts),
        {"mse": mean_squared_error(predicted, targets)},
        ("pearson", {"predicted": predicted, "targets": targets}),
    )


# --- segment-based F1 ---------------------------------------------------------------------------


def segment_frames(segment_seconds: float, hop_seconds: float) -> int:
    """Frames per segment: ``ceil(segment_seconds / hop_seconds)``, at least 1.

    The ratio is rounded to 1e-9 first, so 0.1 s over a 0.01 s hop is 10 frames, not the 11 that
    the float quotient 10.000000000000002 would give.
    """
    if segment_seconds <= 0 or hop_seconds <= 0:
        raise ValueError(f"segment ({segment_seconds} s) and hop ({hop_seconds} s) must be positive")
    return max(1, math.ceil(round(segment_seconds / hop_seconds, 9)))


def _segments(active: np.ndarray, frames: int) -> np.ndarray:
    """Max-pool boolean frames [T, C] over consecutive segments of ``frames`` frames: [ceil(T / frames), C].

    The last segment may be shorter; it is padded with inactive frames, which cannot change a max.
    """
    count = -(-len(active) // frames)
    padded = np.zeros((count * frames, active.shape[1]), dtype=bool)
    padded[: len(active)] = active
    # An array: numpy's stubs allow for the bool scalar of a reduction over every axis.
    return cast(np.ndarray, padded.reshape(count, frames, active.shape[1]).any(axis=1))


def segment_counts(
    probabilities: Sequence[np.ndarray], targets: Sequence[np.ndarray], segment_frames: int, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives [clips, C] over each clip's segments.

    Per clip, a class is predicted in a frame when its probability exceeds ``threshold``; a
    segment (``segment_frames`` consecutive frames, the last one possibly shorter) is active when
    any of its frames is, for predictions and targets alike. A clip with no frames has no segments.
    Counts are kept per clip so that a bootstrap can reweight clips.
    """
    if segment_frames < 1:
        raise ValueError(f"segment_frames must be at least 1, got {segment_frames}")
    if len(probabilities) != len(targets):
        raise ValueError(f"{len(probabilities)} clips of probabilities for {len(targets)} clips of targets")
    classes = np.shape(probabilities[0])[1] if len(probabilities) else 0
    tp, fp, fn = (np.zeros((len(targets), classes), dtype=np.int64) for _ in range(3))
    for i, (probs, truth) in enumerate(zip(probabilities, targets)):
        probs, truth = np.asarray(probs), np.asarray(truth)
        if probs.ndim != 2 or probs.shape != truth.shape or probs.shape[1] != classes:
            raise ValueError(
                f"clip {i}: probabilities {probs.shape} and targets {truth.shape} must both be [frames, {classes}]"
            )
        predicted = _segments(probs > threshold, segment_frames)
        actual = _segments(truth.astype(bool), segment_frames)
        tp[i] = (predicted & actual).sum(axis=0)
        fp[i] = (predicted & ~actual).sum(axis=0)
        fn[i] = (~predicted & actual).sum(axis=0)
    return tp, fp, fn


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, average: Literal["macro", "micro"]) -> float:
    """F1 from per-class counts [C] summed over the test set.

    ``micro``: 2ΣTP / (2ΣTP + ΣFP + ΣFN), 0.0 when there is nothing at all. ``macro``: the mean
    over classes of 2tp / (2tp + fp + fn), where a class never present nor predicted counts 0.0,
    as scikit-learn's ``f1_score`` does by default (``zero_division`` → 0).
    """
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    if average == "micro":
        tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
    elif average != "macro":
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    if tp.size == 0:
        raise ValueError("F1 over no classes")
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


def segment_f1_outcome(
    probabilities: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    segment_frames: int,
    average: Literal["macro", "micro"],
) -> Outcome:
    """Segment-based F1 over all clips' segments, clips as the units (a resample weights each
    clip's counts)."""
    tp, fp, fn = (c.astype(np.float64) for c in segment_counts(probabilities, targets, segment_frames))
    if len(tp) == 0:
        raise ValueError("segment F1 of an empty test set")

    def rescore(counts: np.ndarray) -> float:
        return f1_from_counts(counts @ tp, counts @ fp, counts @ fn, average)

    return Outcome(
        rescore(np.ones(len(tp))), len(tp), rescore, per_unit=(f"f1_{average}", {"tp": tp, "fp": fp, "fn": fn})
    )


# --- word error rate ----------------------------------------------------------------------------


def _words(text: str) -> str:
    """Lower-cased text with runs of whitespace made single spaces, ends stripped."""
    return " ".join(text.lower().split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) of the word alignment of
    ``hypothesis`` to ``reference``, both lower-cased with whitespace normalised (punctuation is
    kept: LibriSpeech transcripts have none).

    An empty reference makes every hypothesis word an insertion; an empty hypothesis makes every
    reference word a deletion.
    """
    try:
        import jiwer
    except ImportError as error:
        raise Unavailable("word error rate needs the jiwer package: pip install 'pytest-xares[asr]'") from error
    reference, hypothesis = _words(reference), _words(hypothesis)
    # jiwer refuses empty references, and these two cases need no alignment
    if not reference or not hypothesis:
        return len(reference.split()) + len(hypothesis.split()), len(reference.split())
    alignment = jiwer.process_words(reference, hypothesis)
    return alignment.substitutions + alignment.deletions + alignment.insertions, len(reference.split())


def wer_outcome(hypotheses: Sequence[str], references: Sequence[str]) -> Outcome:
    """Score max(0, 1 − WER), WER = Σ errors / Σ reference words over utterances (the units);
    the WER itself is reported beside it. A WER over 1 (more errors than words) scores 0.

    A resample whose utterances have no reference words at all scores NaN, which the bootstrap's
    percentiles skip.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    counted = np.array([word_errors(r, h) for r, h in zip(references, hypotheses)], dtype=np.float64).reshape(-1, 2)
    errors, words = counted[:, 0], counted[:, 1]
    if words.sum() == 0:
        raise ValueError("word error rate of a test set without reference words")

    def rate(counts: np.ndarray) -> float:
        total = counts @ words
        return float(counts @ errors / total) if total > 0 else math.nan

    def rescore(counts: np.ndarray) -> float:
        return float(np.maximum(0.0, 1.0 - rate(counts)))  # np.maximum keeps a NaN, max() would not

    ones = np.ones(len(words))
    return Outcome(rescore(ones), len(words), rescore, {"wer": rate(ones)}, ("wer", {"errors": errors, "words": words}))
