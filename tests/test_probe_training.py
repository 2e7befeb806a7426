"""The shared training loop is the protocol's: Adam with a per-epoch cosine schedule, bit for bit."""

from __future__ import annotations

import copy
import itertools
import math

import torch

from pytest_xares.heads.linear import linear_head
from pytest_xares.heads.train import TensorSamples, TrainConfig, cosine_rates, fit, one_thread, predict, seeded


def reference_fit(
    model: torch.nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
) -> list[float]:
    """The loop written with torch.optim.Adam and CosineAnnealingLR, as X-ARES trains its probes."""
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=0.1 * config.learning_rate
    )
    order = torch.Generator().manual_seed(config.seed)
    best_state, best, scores = copy.deepcopy(model.state_dict()), -math.inf, []
    for _ in range(config.epochs):
        for batch in torch.randperm(len(train[0]), generator=order).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(train[0][batch]), train[1][batch]).backward()
            optimizer.step()
        schedule.step()
        with torch.inference_mode():
            scores.append(_accuracy(model(valid[0]), valid[1]))
        if scores[-1] > best:
            best, best_state = scores[-1], copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return scores


def _accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == targets).float().mean())


def test_training_matches_torch_adam_with_cosine_annealing_bit_for_bit() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(300, 24, generator=generator)
    targets = torch.randint(0, 4, (300,), generator=generator)
    config = TrainConfig(epochs=7, batch_size=16, learning_rate=1e-2, seed=3)
    train, valid = (inputs[:200], targets[:200]), (inputs[200:], targets[200:])

    ours = seeded(5, lambda: linear_head(24, 4))
    log = fit(
        ours,
        torch.nn.functional.cross_entropy,
        TensorSamples(*train),
        lambda m: _accuracy(predict(m, valid[0]), valid[1]),
        config,
    )
    theirs = seeded(5, lambda: linear_head(24, 4))
    with one_thread():  # the same thread count, so the same floating-point reductions
        scores = reference_fit(theirs, train, valid, config)

    assert list(log.valid_scores) == scores
    for (name, mine), reference in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(mine, reference), name


def test_cosine_rates_decay_to_a_tenth() -> None:
    rates = cosine_rates(1e-3, 10)
    assert rates[0] == 1e-3 and len(rates) == 10
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert math.isclose(rates[-1], 1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 9 / 10)), rel_tol=1e-12)


def test_training_leaves_the_thread_count_alone() -> None:
    before = torch.get_num_threads()
    model = seeded(0, lambda: linear_head(4, 2))
    data = (torch.randn(8, 4), torch.arange(8) % 2)
    fit(model, torch.nn.functional.cross_entropy, TensorSamples(*data), lambda m: 0.0, TrainConfig(2, 4, 1e-3, 0))
    assert torch.get_num_threads() == before


def test_frozen_parameters_stay_as_they_were_and_the_best_epoch_is_restored() -> None:
    model = seeded(0, lambda: linear_head(4, 2))
    model[0].requires_grad_(False)  # the LayerNorm stands in for a frozen language model
    frozen = copy.deepcopy(model[0].state_dict())
    data = TensorSamples(torch.randn(16, 4), torch.arange(16) % 2)
    snapshots = []

    def validate(m: torch.nn.Module) -> float:
        snapshots.append(copy.deepcopy(m[1].state_dict()))
        return [0.2, 0.9, 0.1][len(snapshots) - 1]

    log = fit(model, torch.nn.functional.cross_entropy, data, validate, TrainConfig(3, 4, 1e-2, 0))
    assert log.best_epoch == 1
    for name, value in model[0].state_dict().items():
        assert torch.equal(value, frozen[name]), name
    for name, value in model[1].state_dict().items():
        assert torch.equal(value, snapshots[1][name]), name
