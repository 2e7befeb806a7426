"""Scores of the suite, and the weighted averages over tasks."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def accuracy(predicted: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) == 0:
        raise ValueError("accuracy of an empty test set")
    return float(np.mean(np.asarray(predicted) == np.asarray(targets)))


def weighted_average(scores_and_weights: Iterable[tuple[float, float]]) -> float | None:
    """Σ score × weight / Σ weight, or ``None`` when nothing counts."""
    pairs = [(s, w) for s, w in scores_and_weights if w > 0]
    total = sum(w for _, w in pairs)
    return sum(s * w for s, w in pairs) / total if total else None
