"""The head of single-label classification: LayerNorm + Linear on pooled embeddings, trained with
cross-entropy and scored by accuracy (``heads.linear``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_xares.heads import metrics
from pytest_xares.heads.linear import linear_probe, logged, pooled_pairs

if TYPE_CHECKING:
    from pytest_xares.heads import Fold


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    train, valid, test_inputs, test_targets = pooled_pairs(fold)
    predicted, log = linear_probe(
        train, valid, test_inputs, fold.task.num_classes, fold.config, fold.device, fold.train.layer_count
    )
    return metrics.accuracy_outcome(predicted, test_targets), logged(log)
