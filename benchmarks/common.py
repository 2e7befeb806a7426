"""Helpers shared by the benchmark scripts: generated shards, a peak-memory meter, timing, tables.

Not part of the package: the scripts import it from their own folder (``python benchmarks/X.py``).
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_xares.data.shards import ShardSample, encode_audio, write_shard
from pytest_xares.task import ClipTask, splits

CLASSES = ("low", "mid", "high", "noise")


def synthetic_clip(label: int, seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    """A noisy tone whose pitch says its class (the last class is noise alone), ``[samples, channels]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    noise = 0.05 * rng.standard_normal((len(t), channels))
    if label == len(CLASSES) - 1:
        return (4 * noise).astype(np.float32)
    freq = 220.0 * 2.0**label * (1 + 0.03 * rng.standard_normal())
    return (0.3 * np.sin(2 * np.pi * freq * t)[:, None] + noise).astype(np.float32)


def write_split(
    folder: Path,
    prefix: str,
    clips: int,
    seconds: float,
    rate: int,
    channels: int,
    extension: str,
    seed: int,
    per_shard: int = 1000,
) -> None:
    """``clips`` generated clips in shards ``<prefix>_NNNNNN.tar`` of ``per_shard`` clips, written
    one shard at a time (the generator never holds more than one shard of audio)."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard, start in enumerate(range(0, clips, per_shard)):
        samples = []
        for i in range(start, min(start + per_shard, clips)):
            label = (i * 7 + seed) % len(CLASSES)
            audio = synthetic_clip(label, seconds, rate, channels, seed * 1_000_003 + i)
            samples.append(
                ShardSample(f"clip{i:07d}", encode_audio(audio, rate, extension), extension, {"label": CLASSES[label]})
            )
        write_shard(folder / f"{prefix}_{shard:06d}.tar", samples)


def generated_task(
    name: str,
    data_dir: Path,
    clips: int,
    seconds: float,
    rate: int,
    channels: int,
    extension: str,
    **task_fields: object,
) -> ClipTask:
    """A clip task of ``clips`` generated clips split 60/20/20, written once under ``data_dir/name``
    (the folder name carries the sizes, so different sizes never share a folder)."""
    folder = data_dir / name
    if not (folder / ".complete").exists():
        sizes = {"train": clips - 2 * (clips // 5), "valid": clips // 5, "test": clips // 5}
        for seed, (split, count) in enumerate(sizes.items()):
            write_split(folder, f"{name}_{split}", count, seconds, rate, channels, extension, seed)
        (folder / ".complete").touch()
    return ClipTask(
        name=name,
        formal_name=f"Benchmark {name}",
        splits=splits(f"{name}_train", f"{name}_valid", f"{name}_test"),
        label="label",
        classes=CLASSES,
        weight=1,
        **task_fields,  # type: ignore[arg-type]
    )


class PeakMemory:
    """Peak resident memory of this process per stage.

    On Linux the high-water mark is reset before each stage (``/proc/self/clear_refs``), so each
    stage reports its own peak; elsewhere the figure is the process's peak so far.
    """

    def __init__(self) -> None:
        self.resettable = Path("/proc/self/clear_refs").exists() and Path("/proc/self/status").exists()

    def reset(self) -> None:
        if self.resettable:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                self.resettable = False

    def peak_mb(self) -> float:
        if self.resettable:
            return self._status_mb("VmHWM:")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def current_mb(self) -> float:
        """Resident memory now (NaN where ``/proc`` does not say)."""
        return self._status_mb("VmRSS:") if self.resettable else float("nan")

    @staticmethod
    def _status_mb(field: str) -> float:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
        return int(line.split()[1]) / 1024


@dataclass
class Stage:
    seconds: float = 0.0
    peak_mb: float = 0.0


@contextmanager
def stage(memory: PeakMemory) -> Iterator[Stage]:
    """Time a stage and record its peak resident memory."""
    measured = Stage()
    memory.reset()
    started = time.perf_counter()
    try:
        yield measured
    finally:
        measured.seconds = time.perf_counter() - started
        measured.peak_mb = memory.peak_mb()


def machine() -> str:
    """One line naming the machine the figures come from."""
    import torch

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = platform.machine()
    if Path("/proc/cpuinfo").exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            cpu,
        )
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} intra-op threads), load average {load}"
    )


def table(rows: list[list[object]], headers: list[str]) -> str:
    from tabulate import tabulate

    return tabulate(rows, headers=headers, disable_numparse=True)


def megabytes(size: float) -> str:
    return f"{size / 1e6:.2f} MB"
