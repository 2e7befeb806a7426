"""Shared fixtures: isolated data and cache directories, and small generated tasks.

No test reaches beyond this machine: pytest-socket refuses connections to any host but the
loopback address (``--allow-hosts`` in pyproject.toml), and the Hugging Face libraries are told
they are offline before any test module imports them (they read it when they first load), so a
model that is not built from a config fails at once instead of retrying the hub.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pytest_xares.testing import tiny_task as write_tiny_task

for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_name] = "1"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No XARES_* setting of the developer's shell leaks into a test; data and cache are per test."""
    for name in list(os.environ):
        if name.startswith("XARES_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XARES_DATA_DIR", str(tmp_path / "xares-data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(tmp_path / "xares-cache"))


@pytest.fixture
def tiny_task(tmp_path: Path) -> Path:
    """A user's tasks folder with one small three-class task, its data written to the data dir."""
    return write_tiny_task(tmp_path / "user-tasks", tmp_path / "xares-data")


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
    from pytest_xares.testing import tiny_language_model as build  # imports transformers

    return build(tmp_path_factory.mktemp("tiny-lm"), ["the cat sat", "a dog ran home", "she sang a song"])
