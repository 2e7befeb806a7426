"""The one training loop every trained head shares.

Adam at the task's learning rate without weight decay, cosine decay over the epochs to a tenth of
it (stepped per epoch), validation after every epoch and the best checkpoint restored. Everything
runs on in-memory tensors, and every random choice comes from generators seeded by ``seed``, so a
run is reproducible whatever ran before it in the process.

Heads are small and batches short, so a step costs Python and dispatch overhead, not arithmetic.
Two choices follow from that:

- Training runs on one intra-op thread. More threads only wait on each other at every small
  operation (minutes instead of seconds for 10 000 clips on a busy 2-core machine), and a score
  then does not depend on how many cores the process has (with or without ``-n``).
- Adam and the cosine schedule are written out here: the same operations in the same order as
  ``torch.optim.Adam`` stepped by ``torch.optim.lr_scheduler.CosineAnnealingLR``, so the weights are
  the same to the last bit (``tests/test_probe_training.py``), without the optimiser machinery's
  per-step overhead and without its first use importing ``torch._dynamo`` (seconds in every
  process that trains a probe).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch

from pytest_xares.heads.layers import mixture

M = TypeVar("M", bound=torch.nn.Module)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    #: Small heads train fastest, and reproducibly, on one thread; a head that does real
    #: arithmetic (the ASR adapter under a language model) uses the process's threads.
    single_thread: bool = True
    #: Told ``(epochs done, validation score)`` after every epoch: progress of long training.
    report: Callable[[int, float], None] | None = field(default=None, compare=False, repr=False)


class Samples(Protocol):
    """Training data the loop draws batches from: in-memory tensors, memory-mapped frames, …"""

    def __len__(self) -> int: ...

    def batch(self, indices: torch.Tensor) -> tuple[Any, Any]:
        """``(model input, target)`` of the samples at ``indices``."""
        ...

    # Optional: ``batches(generator, batch_size) -> Iterable[torch.Tensor]`` gives an epoch's batches
    # of indices, drawing any randomness from ``generator``; by default a shuffle cut into batches.


@dataclass(frozen=True)
class TensorSamples:
    """Samples held as two tensors with one row per sample."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        on_device = indices.to(self.inputs.device)  # the order is drawn on the CPU, the same everywhere
        return self.inputs[on_device], self.targets[on_device]


@dataclass(frozen=True)
class TrainLog:
    best_epoch: int
    best_valid: float
    valid_scores: tuple[float, ...]
    #: The learned weight of each of the encoder's layers (``heads.layers``), where the model mixes them.
    layer_weights: tuple[float, ...] | None = None


def seeded(seed: int, build: Callable[[], M]) -> M:
    """Build a head with its initial weights drawn from ``seed`` (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@contextlib.contextmanager
def one_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch's operations on a single intra-op thread, restoring the process's count after."""
    if not enabled:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Adam:
    """``torch.optim.Adam(params, lr)``: betas (0.9, 0.999), eps 1e-8, no weight decay; each step
    takes the learning rate of its epoch."""

    def __init__(
        self, params: Sequence[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = params
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.steps = 0

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.steps += 1
        step_size = lr / (1 - self.beta1**self.steps)
        bias_correction2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq):
            grad = param.grad
            if grad is None:
                continue
            exp_avg.lerp_(grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


def cosine_rates(learning_rate: float, epochs: int) -> list[float]:
    """The learning rate of each epoch, decaying to a tenth by the last.

    ``CosineAnnealingLR(T_max=epochs, eta_min=learning_rate / 10)`` derives each epoch's rate from
    the previous one rather than in closed form; so does this, to give the same floats.
    """
    low = 0.1 * learning_rate
    rates = [learning_rate]
    for epoch in range(1, epochs):
        ratio = (1 + math.cos(math.pi * epoch / epochs)) / (1 + math.cos(math.pi * (epoch - 1) / epochs))
        rates.append(ratio * (rates[-1] - low) + low)
    return rates


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    train: Samples,
    validate: Callable[[torch.nn.Module], float],
    config: TrainConfig,
) -> TrainLog:
    """Train ``model``'s trainable parameters in place and leave it holding the weights of its best
    validation epoch. ``validate(model)`` scores the model (higher is better); the loop calls it in
    eval mode after every epoch. Frozen parameters (a language model under an adapter) are neither
    updated nor copied."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = Adam(params)
    order = torch.Generator().manual_seed(config.seed)
    best_state, best, best_epoch, scores = _trainable_state(model), -math.inf, -1, []
    with one_thread(config.single_thread):
        for epoch, learning_rate in enumerate(cosine_rates(config.learning_rate, config.epochs)):
            model.train()
            for indices in _batches(train, order, config.batch_size):
                for param in params:
                    param.grad = None
                inputs, targets = train.batch(indices)
                loss_fn(model(inputs), targets).backward()
                optimizer.step(learning_rate)
            model.eval()
            score = validate(model)
            scores.append(score)
            if config.report is not None:
                config.report(epoch + 1, score)
            if score > best:  # ties keep the earlier epoch
                best, best_epoch, best_state = score, epoch, _trainable_state(model)
    model.load_state_dict(best_state, strict=False)
    model.eval()
    weights = mixture(model)
    return TrainLog(best_epoch, best, tuple(scores), None if weights is None else tuple(weights))


def _batches(train: Samples, order: torch.Generator, batch_size: int) -> Iterator[torch.Tensor]:
    """An epoch's batches of sample indices: a shuffle cut into batches, unless the samples choose
    their own (``train.batches(order, batch_size)``: length-sorted batches for speech, say)."""
    own = getattr(train, "batches", None)
    return (
        iter(own(order, batch_size))
        if own is not None
        else iter(torch.randperm(len(train), generator=order).split(batch_size))
    )


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the trainable parameters and of every buffer (running statistics, say)."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name for name, _ in model.named_buffers()}
    return {
        name: copy.deepcopy(value) for name, value in model.state_dict().items() if name in trainable or name in buffers
    }


def predict(model: torch.nn.Module, inputs: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """The model's outputs for every input, in eval mode and in chunks."""
    model.eval()
    with torch.inference_mode(), one_thread():
        return torch.cat([model(part) for part in inputs.split(chunk)]) if len(inputs) else model(inputs)
