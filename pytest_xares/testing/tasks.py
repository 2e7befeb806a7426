"""Small generated tasks for tests: shards of tones whose pitch says their class, and a user's
task folder around them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.data.shards import ShardSample, encode_audio, write_shard


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


#: A user's task definition: three classes of tones in train, valid and test shards.
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


def tiny_task(tasks_dir: Path, data_dir: Path, private: bool = False) -> Path:
    """Write the tiny task's definition into ``tasks_dir`` and its shards into ``data_dir/tiny``."""
    tasks_dir.mkdir(parents=True, exist_ok=True)
    (tasks_dir / "tiny.py").write_text(TINY_TASK.format(private=private))
    for seed, split in enumerate(("train", "valid", "test")):
        write_tone_shard(data_dir / "tiny" / f"tiny_{split}_000000.tar", ["a", "b", "c"] * 8, seed=seed)
    return tasks_dir
