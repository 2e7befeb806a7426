"""The one training loop every trained head shares.

Adam at the task's learning rate without weight decay, cosine decay over the epochs to a tenth of
it (stepped per epoch), validation after every epoch and the best checkpoint restored. Everything
runs on in-memory tensors, and every random choice comes from generators seeded by ``seed``, so a
run is reproducible whatever ran before it in the process.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Metric = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int


@dataclass(frozen=True)
class TrainLog:
    best_epoch: int
    best_valid: float
    valid_scores: tuple[float, ...]


def seeded(seed: int, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build a head with its initial weights drawn from ``seed`` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    metric: Metric,
    train: tuple[torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
) -> TrainLog:
    """Train ``model`` in place and leave it holding the weights of its best validation epoch."""
    inputs, targets = train
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=0.1 * config.learning_rate
    )
    order = torch.Generator().manual_seed(config.seed)
    best_state, best, best_epoch, scores = copy.deepcopy(model.state_dict()), -math.inf, -1, []
    for epoch in range(config.epochs):
        model.train()
        for batch in torch.randperm(len(inputs), generator=order).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(inputs[batch]), targets[batch]).backward()
            optimizer.step()
        schedule.step()
        score = metric(predict(model, valid[0]), valid[1])
        scores.append(score)
        if score > best:  # ties keep the earlier epoch
            best, best_epoch, best_state = score, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return TrainLog(best_epoch, best, tuple(scores))


def predict(model: torch.nn.Module, inputs: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """The model's outputs for every input, in eval mode and in chunks."""
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(part) for part in inputs.split(chunk)]) if len(inputs) else model(inputs)
