"""Every head trains and predicts on the fold's device (the worker's: a GPU where there is one).

No GPU is needed to see it. On torch's meta device a tensor has a shape and no data, and every
operation of training and prediction runs on it; a tensor that a head made on the CPU by mistake
meets a meta one and raises (``Tensor on device cpu is not on the expected device meta``). Copies
back to the host (``.cpu()``, ``.numpy()``, ``.item()``) come back as zeros (``MetaToHost``), so each
head runs to its end on made-up numbers. What this cannot show, the speed of a real GPU, is
measured by ``benchmarks/heads.py --device cuda``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from pytest_xares.embeddings.sets import EmbeddingSet, FrameSet
from pytest_xares.heads import Fold, train_and_score
from pytest_xares.heads.train import TrainConfig
from pytest_xares.task import AsrTask, splits
from pytest_xares.tasks.demo import brightness, captions, count, events, tags
from pytest_xares.testing import tiny_language_model

META = torch.device("meta")
CONFIG = TrainConfig(epochs=2, batch_size=4, learning_rate=1e-2, seed=0)
HOST = {torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.item, torch.Tensor.tolist}
HOST |= {torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__bool__, torch.Tensor.__index__}


class MetaToHost(TorchFunctionMode):
    """Copies of meta tensors to the host are zeros of their shape; it counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.copies = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if tensor is not None and tensor.is_meta:
            to_cpu = func is torch.Tensor.to and any(
                torch.device(a).type == "cpu"
                for a in [*args[1:], kwargs.get("device")]
                if isinstance(a, (str, torch.device))
            )
            if func in HOST or to_cpu:
                self.copies += 1
                zeros = torch.zeros(tensor.shape, dtype=tensor.dtype)
                if func is torch.Tensor.numpy:
                    return zeros.numpy()
                if func is torch.Tensor.tolist:
                    return zeros.tolist()
                return zeros if func in (torch.Tensor.cpu, torch.Tensor.to) else func(zeros)
        return func(*args, **kwargs)


def pooled(metadata: list[Any], dim: int = 8) -> EmbeddingSet:
    features = np.random.default_rng(len(metadata)).standard_normal((len(metadata), dim)).astype(np.float32)
    return EmbeddingSet(features, [f"clip{i}" for i in range(len(metadata))], metadata)


def framed(metadata: list[Any], frames: int = 20, dim: int = 8, hop: float = 0.04) -> FrameSet:
    rows = np.random.default_rng(0).standard_normal((frames * len(metadata), dim)).astype(np.float16)
    starts = np.arange(len(metadata), dtype=np.int64) * frames
    lengths = np.full(len(metadata), frames, dtype=np.int64)
    return FrameSet(rows, starts, lengths, [f"clip{i}" for i in range(len(metadata))], metadata, hop)


def fold(task: Any, split: Any, method: str = "mlp", **options: Any) -> tuple[str, Fold]:
    return method, Fold(task, split, split, split, CONFIG, META, options, offline=True)


def caption(i: int) -> dict[str, str]:
    return {f"caption_{k}": f"a {'high' if i % 2 else 'low'} bell rings" for k in range(5)}


FOLDS = {
    "classes": lambda: fold(count.TASK, pooled([{"num_sources": 1 + i % 5} for i in range(12)])),
    "knn": lambda: fold(count.TASK, pooled([{"num_sources": 1 + i % 5} for i in range(12)]), "knn"),
    "multilabel": lambda: fold(
        tags.TASK, pooled([{"soundevent": "bell;rain" if i % 2 else "bird"} for i in range(12)])
    ),
    "regression": lambda: fold(brightness.TASK, pooled([{"brightness": float(i % 7)} for i in range(12)])),
    "frame": lambda: fold(
        dataclasses.replace(events.TASK, pos_weight=2.0),  # the positive weight is a tensor of its own
        framed([[{"onset": 0.1, "offset": 0.5, "label": "beep"}] if i % 2 else [] for i in range(8)]),
    ),
    "retrieval": lambda: fold(captions.TASK, pooled([caption(i) for i in range(8)])),
}


@pytest.mark.parametrize("head", sorted(FOLDS))
def test_each_head_trains_and_predicts_on_the_folds_device(head: str) -> None:
    method, on_meta = FOLDS[head]()
    with MetaToHost() as host:
        outcome, _ = train_and_score(method, on_meta)
    assert host.copies > 0 and outcome is not None  # it ran on the meta device, to its end


def test_a_tensor_made_on_the_cpu_by_mistake_is_caught() -> None:
    """What the test above relies on: a head that forgot the device raises on the meta device."""
    with MetaToHost(), pytest.raises(RuntimeError, match="device"):
        torch.zeros(3, device=META) + torch.ones(3)


def test_the_speech_head_trains_and_decodes_on_the_folds_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    from torch.fx.experimental import _config

    # The head picks the positions it scores with a mask; without data a mask is taken as all true.
    monkeypatch.setattr(_config, "meta_nonzero_assume_all_nonzero", True)
    texts = ["the cat sat", "a dog ran home", "she sang a song"]
    lm = tiny_language_model(tmp_path / "lm", texts)
    task = AsrTask(name="asr", formal_name="ASR", splits=splits("a", "b", "c"), weight=1, label="text")
    split = framed([{"text": t} for t in texts], frames=12)
    method, on_meta = fold(task, split, lm=str(lm))
    with MetaToHost() as host:
        outcome, _ = train_and_score(method, on_meta)
    assert host.copies > 0 and outcome is not None
