"""The frame-level probe: LayerNorm + Linear applied to every frame, trained with binary
cross-entropy against frame targets at the encoder's hop.

Frame embeddings may be far larger than memory (tens of GB at full scale), so batches are read from
the memory-mapped ``FrameSet`` as the loop asks for them, and targets are built per batch from each
clip's event spans, which are parsed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.embeddings.sets import FrameSet
from pytest_xares.heads import metrics
from pytest_xares.heads.layers import mixed
from pytest_xares.heads.linear import CPU, linear_head, logged
from pytest_xares.heads.train import TrainConfig, TrainLog, fit, one_thread, seeded
from pytest_xares.task import FrameTask, frames_from_spans

if TYPE_CHECKING:
    from pytest_xares.heads import Fold

#: The head reads every frame's embedding (stored float16, memory-mapped), not the mean over frames.
FRAMES = True


class FrameSamples:
    """Clips as training samples: a batch is every frame of its clips, one after another."""

    def __init__(self, split: FrameSet, spans: list[np.ndarray], classes: int, device: torch.device = CPU) -> None:
        self.split = split
        self.spans = spans
        self.classes = classes
        self.device = device

    def __len__(self) -> int:
        return len(self.split)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = indices.tolist()
        inputs = np.concatenate([self.split.sample(i) for i in chosen]).astype(np.float32)
        targets = np.concatenate([self.targets(i) for i in chosen])
        return torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device)

    def targets(self, index: int) -> np.ndarray:
        return frames_from_spans(self.spans[index], int(self.split.lengths[index]), self.classes)


def frame_probabilities(model: torch.nn.Module, split: FrameSet, rows: int = 16384) -> Iterator[np.ndarray]:
    """Each clip's ``[frames, classes]`` sigmoid outputs, in split order; clips are run together
    up to ``rows`` frames at a time, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    group: list[int] = []

    def run(indices: list[int]) -> list[np.ndarray]:
        inputs = torch.from_numpy(np.concatenate([split.sample(i) for i in indices]).astype(np.float32))
        with torch.inference_mode(), one_thread():
            probabilities = torch.sigmoid(model(inputs.to(device))).cpu().numpy()
        return np.split(probabilities, np.cumsum([int(split.lengths[i]) for i in indices])[:-1])

    size = 0
    for index in range(len(split)):
        group.append(index)
        size += int(split.lengths[index])
        if size >= rows:
            yield from run(group)
            group, size = [], 0
    if group:
        yield from run(group)


def frame_probe(
    train: FrameSamples,
    valid: FrameSet,
    test: FrameSet,
    score: Callable[[list[np.ndarray]], float],
    config: TrainConfig,
    pos_weight: float | None = None,
) -> tuple[list[np.ndarray], TrainLog]:
    """Per-frame probabilities of the test clips from a per-frame linear head trained on the
    device of ``train``'s batches, with the checkpoint that ``score(valid probabilities)`` (higher
    is better) liked best."""
    width, layers = train.split.frames.shape[1], train.split.layer_count
    model = seeded(config.seed, lambda: mixed(layers, width, lambda dim: linear_head(dim, train.classes)))
    model.to(train.device)
    weight = None if pos_weight is None else torch.full((train.classes,), float(pos_weight), device=train.device)

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)

    log = fit(model, loss, train, lambda m: score(list(frame_probabilities(m, valid))), config)
    return list(frame_probabilities(model, test)), log


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    task: FrameTask = fold.task
    train, valid, test = fold.train, fold.valid, fold.test
    assert isinstance(train, FrameSet) and isinstance(valid, FrameSet) and isinstance(test, FrameSet)  # FRAMES
    hop = train.hop_seconds
    segment = metrics.segment_frames(task.segment_seconds, hop)

    def samples(split: FrameSet) -> FrameSamples:
        return FrameSamples(split, [task.spans(m, hop) for m in split.metadata], task.num_classes, fold.device)

    def targets(split: FrameSet) -> list[np.ndarray]:
        clips = samples(split)
        return [clips.targets(i) for i in range(len(split))]

    def f1(probabilities: list[np.ndarray], truth: list[np.ndarray]) -> metrics.Outcome:
        return metrics.segment_f1_outcome(probabilities, truth, segment, task.average)

    valid_targets = targets(valid)  # built once: every epoch is scored against them
    probabilities, log = frame_probe(
        samples(train), valid, test, lambda p: f1(p, valid_targets).score, fold.config, task.pos_weight
    )
    return f1(probabilities, targets(test)), logged(log)
