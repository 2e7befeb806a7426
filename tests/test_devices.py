"""Several GPUs in one machine: under ``-n`` each worker takes its own (``gwK`` → GPU K mod count).

No GPU is needed: torch.cuda's answers are faked, and the encoder's ``.to()`` only records where
it was sent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pytest_xares.engine.progress import Progress
from pytest_xares.engine.runtime import Runtime
from pytest_xares.settings import Settings


class Recording(torch.nn.Module):
    sampling_rate, output_dim, hop_size_in_ms = 16_000, 4, 10

    def __init__(self) -> None:
        super().__init__()
        self.sent_to: list[torch.device] = []

    def to(self, device: torch.device) -> Recording:  # type: ignore[override]
        self.sent_to.append(torch.device(device))
        return self

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.zeros(audio.shape[0], 1, 4)


@pytest.fixture
def current(monkeypatch: pytest.MonkeyPatch) -> list[torch.device]:
    """The devices made current with ``torch.cuda.set_device``."""
    made: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: made.append(torch.device(device)))
    return made


def fake_gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def device_of_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, worker: str | None, workers: int, device: str = "auto"
) -> tuple[torch.device, Recording]:
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
    settings = Settings.with_defaults(device=device, cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    encoder = Recording()
    loaded = Runtime(settings, Progress.for_python(enabled=False), encoder).encoder()
    return loaded.device, encoder


def test_four_workers_on_four_gpus_take_one_gpu_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, current: list[torch.device]
) -> None:
    fake_gpus(monkeypatch, 4)
    for k in range(4):
        device, encoder = device_of_worker(monkeypatch, tmp_path, f"gw{k}", 4)
        assert device == torch.device("cuda", k)
        assert encoder.sent_to == [torch.device("cuda", k)]  # the encoder's weights go there
        assert current[-1] == torch.device("cuda", k)  # and it is the worker's current device
    assert current == [torch.device("cuda", k) for k in range(4)]


def test_more_workers_than_gpus_wrap_round(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, current: list[torch.device]
) -> None:
    fake_gpus(monkeypatch, 2)
    devices = [device_of_worker(monkeypatch, tmp_path, f"gw{k}", 5)[0] for k in range(5)]
    assert devices == [torch.device("cuda", k % 2) for k in range(5)]


def test_without_xdist_the_first_gpu_and_without_gpus_the_cpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, current: list[torch.device]
) -> None:
    fake_gpus(monkeypatch, 3)
    assert device_of_worker(monkeypatch, tmp_path, None, 1)[0] == torch.device("cuda", 0)
    fake_gpus(monkeypatch, 0)
    current.clear()
    assert device_of_worker(monkeypatch, tmp_path, "gw1", 2)[0] == torch.device("cpu")
    assert current == []  # no CUDA call where there is no GPU


def test_a_device_the_user_names_is_taken_by_every_worker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, current: list[torch.device]
) -> None:
    fake_gpus(monkeypatch, 4)
    for k in range(3):
        assert device_of_worker(monkeypatch, tmp_path, f"gw{k}", 3, device="cuda:2")[0] == torch.device("cuda", 2)
        assert device_of_worker(monkeypatch, tmp_path, f"gw{k}", 3, device="cpu")[0] == torch.device("cpu")
