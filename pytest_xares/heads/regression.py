"""The regression head: LayerNorm + Linear to one output on pooled embeddings, trained with mean
squared error, validated and scored by Pearson correlation (the MSE reported beside it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from pytest_xares.heads import metrics
from pytest_xares.heads.linear import logged, pooled_pairs, train_linear

if TYPE_CHECKING:
    from pytest_xares.heads import Fold


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    train, valid, test_inputs, test_targets = pooled_pairs(fold)
    outputs, log = train_linear(
        train,
        valid,
        test_inputs,
        1,
        lambda out, target: torch.nn.functional.mse_loss(out[:, 0], target),
        lambda out, target: metrics.pearson(out[:, 0], target),
        fold.config,
        fold.device,
        fold.train.layer_count,
    )
    return metrics.regression_outcome(outputs[:, 0], test_targets), logged(log)
