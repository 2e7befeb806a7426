"""The linear probe (the "MLP" column of X-ARES): LayerNorm then one Linear layer."""

from __future__ import annotations

import numpy as np
import torch

from pytest_xares.metrics import accuracy
from pytest_xares.probes.train import TensorSamples, TrainConfig, TrainLog, fit, predict, seeded


def linear_head(dim: int, outputs: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.LayerNorm(dim), torch.nn.Linear(dim, outputs))


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    test_inputs: np.ndarray,
    num_classes: int,
    config: TrainConfig,
) -> tuple[np.ndarray, TrainLog]:
    """Predicted classes of the test inputs by a linear classifier trained with cross-entropy
    on pooled embeddings, with the checkpoint of the best validation accuracy."""
    as_tensors = lambda pair: (torch.from_numpy(pair[0]).float(), torch.from_numpy(pair[1]).long())  # noqa: E731
    train_t, valid_t = as_tensors(train), as_tensors(valid)
    model = seeded(config.seed, lambda: linear_head(train_t[0].shape[1], num_classes))
    log = fit(model, torch.nn.functional.cross_entropy, TensorSamples(*train_t), lambda m: _accuracy(predict(m, valid_t[0]), valid_t[1]), config)
    return predict(model, torch.from_numpy(test_inputs).float()).argmax(dim=1).numpy(), log


def _accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return accuracy(logits.argmax(dim=1).numpy(), targets.numpy())
