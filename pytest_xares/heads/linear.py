"""The linear probe (the "MLP" column of X-ARES): LayerNorm then one Linear layer on pooled
embeddings; the loss and the validation score depend on the task (cross-entropy and accuracy for
single-label classes, binary cross-entropy and mAP for multi-label, MSE and Pearson for a score)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.embeddings.sets import EmbeddingSet
from pytest_xares.heads.layers import mixed
from pytest_xares.heads.metrics import accuracy
from pytest_xares.heads.train import TensorSamples, TrainConfig, TrainLog, fit, predict, seeded

if TYPE_CHECKING:
    from pytest_xares.heads import Fold

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CPU = torch.device("cpu")
#: A validation score from (outputs, targets) as numpy arrays; higher is better.
Score = Callable[[np.ndarray, np.ndarray], float]


def linear_head(dim: int, outputs: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.LayerNorm(dim), torch.nn.Linear(dim, outputs))


def train_linear(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    test_inputs: np.ndarray,
    outputs: int,
    loss: Loss,
    score: Score,
    config: TrainConfig,
    device: torch.device = CPU,
    layers: int = 1,
) -> tuple[np.ndarray, TrainLog]:
    """The head's outputs (logits) on the test inputs, with the checkpoint of the best validation
    score; it trains and predicts on ``device``. Targets keep their dtype: class indices for
    cross-entropy, floats otherwise. Inputs of several ``layers`` (each row their vectors one
    after another) are mixed by learned weights first (``heads.layers``)."""
    as_tensors = lambda pair: (torch.from_numpy(pair[0]).float().to(device), torch.from_numpy(pair[1]).to(device))
    train_t, valid_t = as_tensors(train), as_tensors(valid)
    # Initialised on the CPU, from the seed, then moved: the same start on every device.
    width = train_t[0].shape[1]
    model = seeded(config.seed, lambda: mixed(layers, width, lambda dim: linear_head(dim, outputs))).to(device)
    validate = lambda m: score(predict(m, valid_t[0]).cpu().numpy(), valid[1])
    log = fit(model, loss, TensorSamples(*train_t), validate, config)
    return predict(model, torch.from_numpy(test_inputs).float().to(device)).cpu().numpy(), log


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    test_inputs: np.ndarray,
    num_classes: int,
    config: TrainConfig,
    device: torch.device = CPU,
    layers: int = 1,
) -> tuple[np.ndarray, TrainLog]:
    """Predicted classes of the test inputs by a linear classifier trained with cross-entropy on
    ``device``, with the checkpoint of the best validation accuracy (``layers``: see ``train_linear``)."""
    logits, log = train_linear(
        train,
        valid,
        test_inputs,
        num_classes,
        torch.nn.functional.cross_entropy,
        lambda outputs, targets: accuracy(outputs.argmax(axis=1), targets),
        config,
        device,
        layers,
    )
    return logits.argmax(axis=1), log


#: (inputs, targets) of a split of pooled embeddings.
Pair = tuple[np.ndarray, np.ndarray]


def pooled_pairs(fold: Fold) -> tuple[Pair, Pair, np.ndarray, np.ndarray]:
    """The training and validation pairs, the test inputs and the test targets of a fold whose
    splits are pooled embeddings and whose task stacks its targets (``task.targets``)."""
    task: Any = fold.task
    train, valid, test = fold.train, fold.valid, fold.test
    assert isinstance(train, EmbeddingSet) and isinstance(valid, EmbeddingSet) and isinstance(test, EmbeddingSet)
    return (
        (train.features, task.targets(train.metadata)),
        (valid.features, task.targets(valid.metadata)),
        test.features,
        task.targets(test.metadata),
    )


def logged(log: TrainLog) -> dict[str, Any]:
    """What training chose, for the results file: the best epoch and its validation score, and
    the layer weights it learned where it mixed the encoder's layers."""
    weights = {} if log.layer_weights is None else {"layer_weights": [round(w, 6) for w in log.layer_weights]}
    return {"best_epoch": log.best_epoch, "valid": round(log.best_valid, 6), **weights}
