"""The multi-label head: LayerNorm + Linear on pooled embeddings, trained with binary
cross-entropy, validated and scored by macro mAP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.heads import metrics
from pytest_xares.heads.linear import logged, pooled_pairs, train_linear

if TYPE_CHECKING:
    from pytest_xares.heads import Fold


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    train, valid, test_inputs, test_targets = pooled_pairs(fold)
    logits, log = train_linear(
        train,
        valid,
        test_inputs,
        fold.task.num_classes,
        torch.nn.functional.binary_cross_entropy_with_logits,
        _mean_average_precision,
        fold.config,
        fold.device,
        fold.train.layer_count,
    )
    return metrics.map_outcome(logits, test_targets), logged(log)


def _mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    # A validation split without positives scores every epoch alike (0): the first is kept.
    return float(np.nan_to_num(metrics.mean_average_precision(scores, targets)))
