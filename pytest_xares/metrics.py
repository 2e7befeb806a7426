"""Scores of the suite, their bootstrap intervals, and the weighted averages over tasks.

A head's test result is an ``Outcome``: its score, and how to recompute that score when the test
units (clips, caption queries, utterances) are drawn again with replacement. Every metric takes
the draw as a count per unit, so a resample is a weighting of what was measured once, never a
second prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np


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


def accuracy(predicted: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) == 0:
        raise ValueError("accuracy of an empty test set")
    return float(np.mean(np.asarray(predicted) == np.asarray(targets)))


def accuracy_outcome(predicted: np.ndarray, targets: np.ndarray) -> Outcome:
    correct = (np.asarray(predicted) == np.asarray(targets)).astype(np.float64)
    if len(correct) == 0:
        raise ValueError("accuracy of an empty test set")
    return Outcome(float(correct.mean()), len(correct), lambda counts: float(counts @ correct / counts.sum()))


def bootstrap_interval(outcomes: list[Outcome], seed: int, resamples: int = 1000, level: float = 0.95) -> tuple[float, float]:
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


def weighted_average(scores_and_weights: Iterable[tuple[float, float]]) -> float | None:
    """Σ score × weight / Σ weight, or ``None`` when nothing counts."""
    pairs = [(s, w) for s, w in scores_and_weights if w > 0]
    total = sum(w for _, w in pairs)
    return sum(s * w for s, w in pairs) / total if total else None
