"""Shared fixtures: isolated data and cache directories, and small generated tasks."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pytest_xares.data.shards import ShardSample, encode_audio, write_shard

MEL = "pytest_xares.example_encoders.mel"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No XARES_* setting of the developer's shell leaks into a test; data and cache are per test."""
    for name in list(os.environ):
        if name.startswith("XARES_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XARES_DATA_DIR", str(tmp_path / "xares-data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(tmp_path / "xares-cache"))


def tone(label: int, seconds: float, rate: int, seed: int) -> np.ndarray:
    """A noisy tone whose pitch says its class: learnable, with some noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    freq = 300.0 * 1.5**label * (1 + 0.02 * rng.standard_normal())
    return (0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def write_tone_shard(
    path: Path,
    labels: list,
    seconds: float = 0.5,
    rate: int = 16000,
    extension: str = "wav",
    field: str = "label",
    seed: int = 0,
) -> None:
    """A shard of tones, one per label value; the class index is the label's position in sorted(set)."""
    classes = sorted(set(map(str, labels)))
    samples = [
        ShardSample(
            f"clip{i:04d}",
            encode_audio(tone(classes.index(str(value)), seconds, rate, seed * 10_000 + i), rate, extension),
            extension,
            {field: value},
        )
        for i, value in enumerate(labels)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_shard(path, samples)


TINY_TASK = """
from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="tiny",
    formal_name="Tiny tones",
    splits=splits("tiny_train", "tiny_valid", "tiny_test"),
    label="label",
    classes=("a", "b", "c"),
    weight=10,
    epochs=100,  # 300 steps: the protocol's learning rate needs them on so few clips
    batch_size=8,
    private={private},
)
"""


@pytest.fixture
def tiny_task(tmp_path: Path) -> Path:
    """A user's tasks folder with one small three-class task, its data written to the data dir."""
    tasks = tmp_path / "user-tasks"
    tasks.mkdir()
    (tasks / "tiny.py").write_text(TINY_TASK.format(private=False))
    folder = tmp_path / "xares-data" / "tiny"
    for seed, split in enumerate(("train", "valid", "test")):
        write_tone_shard(folder / f"tiny_{split}_000000.tar", ["a", "b", "c"] * 8, seed=seed)
    return tasks


def encoder_file(directory: Path, body: str, name: str = "my_encoder.py") -> Path:
    """Write an encoder module (imports of torch and math included) and return its path."""
    path = directory / name
    path.write_text("import math\nimport torch\n\n" + textwrap.dedent(body))
    return path


#: A small, fast, correct encoder: log energies of 16 bands of 10 ms frames.
BANDS_ENCODER = """
class BandsEncoder(torch.nn.Module):
    sampling_rate = 16000
    output_dim = 16
    hop_size_in_ms = 10

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(16))

    def forward(self, audio):
        if audio.ndim == 1:
            audio = audio[None]
        frames = audio[:, : audio.shape[1] // 160 * 160].reshape(audio.shape[0], -1, 160)
        spectrum = torch.fft.rfft(frames, dim=-1).abs()[..., :80]
        bands = spectrum.reshape(*spectrum.shape[:2], 16, 5).pow(2).mean(-1)
        return torch.log(bands + 1e-6) * self.scale
"""


@pytest.fixture(scope="session", autouse=True)
def _import_lazy_torch_modules() -> None:
    """Train a probe once before any in-process pytester run.

    pytester removes the modules a run imported when the run ends; some torch modules register
    operator libraries on first import and refuse a second registration, so whatever a probe
    imports is imported here, before the first run, where pytester leaves it alone.
    """
    from pytest_xares.heads.linear import linear_probe
    from pytest_xares.heads.train import TrainConfig

    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    y = np.arange(8) % 2
    linear_probe((x, y), (x, y), x, 2, TrainConfig(1, 4, 1e-3, 0))


@pytest.fixture(autouse=True)
def _offline_by_default(_isolated_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the internet: absent data is not fetched unless a test serves it (``zenodo``)."""
    monkeypatch.setenv("XARES_OFFLINE", "1")


@pytest.fixture
def zenodo(_offline_by_default: None, monkeypatch: pytest.MonkeyPatch):  # -> Iterator[ZenodoServer]
    """A fake Zenodo on 127.0.0.1, online and the run's server (``XARES_ZENODO_URL``); retries wait
    milliseconds and give up after two seconds without progress."""
    from pytest_xares.data import zenodo as downloader
    from pytest_xares.testing.zenodo_server import ZenodoServer

    with ZenodoServer() as server:
        monkeypatch.delenv("XARES_OFFLINE")
        monkeypatch.setenv("XARES_ZENODO_URL", server.url)
        monkeypatch.setattr(downloader, "BACKOFF", downloader.Backoff(first=0.01, longest=0.05, give_up=2.0))
        yield server


@pytest.fixture(scope="session")
def tiny_language_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny random Qwen2 and its tokenizer, for the ASR task (needs transformers)."""
    pytest.importorskip("transformers")
    from pytest_xares.testing import tiny_language_model as build

    return build(tmp_path_factory.mktemp("tiny-lm"), ["the cat sat", "a dog ran home", "she sang a song"])
