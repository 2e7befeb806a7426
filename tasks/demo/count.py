"""Demo: source counting — how many harmonic voices (1 to 5), steady or gliding, sound at once.

Each voice adds its harmonics at about the same level over noise of a fixed level, so the count
shows in how many mel bands rise above the noise and by how much: learnable from pooled log-mel
features. But voices share bands and the level step from four voices to five is about 1 dB, so
the high counts blur. Laid out like LibriCount (a count label, scored on 1 s crops; clips shorter
than a crop are zero-padded) and stored as 16 kHz mono WAV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.task import ClipTask, Task, splits
from pytest_xares.tasks.demo._synthesis import (
    AudioFormat,
    harmonic_tone,
    labelled,
    write_task,
)

COUNT_FORMAT = AudioFormat(16000, "WAV", "PCM_16", "wav")


SOURCE_COUNTS = (1, 2, 3, 4, 5)


def synthesise_count(task: Task, folder: Path) -> None:
    """Train, valid and test shards of 0.6–3.5 s mixtures of 1 to 5 voices as 16 kHz WAV."""
    per_class = {"demo_count_train_000000.tar": 48, "demo_count_valid_000000.tar": 12, "demo_count_test_000000.tar": 12}
    write_task(task, folder, labelled(3, per_class, task.label, SOURCE_COUNTS, _count_clip), COUNT_FORMAT)


def _count_clip(rng: np.random.Generator, index: int) -> np.ndarray:
    """``SOURCE_COUNTS[index]`` harmonic voices sounding together for the whole clip, in noise.

    Voices and noise keep their levels (give or take a few decibels), so each added voice fills
    more mel bands and lifts them further above the noise; but voices share bands and the step
    from four to five is small, so the high counts are easily confused.
    """
    rate = COUNT_FORMAT.rate
    time = np.arange(int(rng.uniform(0.6, 3.5) * rate)) / rate
    voices = sum(_voice(rng, time) for _ in range(SOURCE_COUNTS[index]))
    gain = 0.03 * 10 ** (rng.uniform(-3.0, 3.0) / 20)  # five voices and the noise peak below 0.7
    return gain * (voices + rng.normal(0.0, 0.2, len(time)))


def _voice(rng: np.random.Generator, time: np.ndarray) -> np.ndarray:
    """Five harmonics of a fundamental (150–850 Hz) that may glide up to a fifth of an octave, ±2 dB."""
    start = 150.0 * 2 ** rng.uniform(0.0, 2.5)
    end = start * 2 ** (rng.uniform(-0.2, 0.2) if rng.random() < 0.5 else 0.0)
    cycles = start * time + (end - start) * time**2 / (2 * time[-1])
    level = 10 ** (rng.uniform(-2.0, 2.0) / 20)
    return level * harmonic_tone(rng, cycles, 1 / np.arange(1, 6))


TASK = ClipTask(
    name="demo_count",
    formal_name="Demo: source counting",
    description="Synthetic: how many harmonic voices (1 to 5) sound at once, scored on 1 s crops.",
    reference="pytest_xares.tasks.demo.count (synthesised)",
    domain="sound",
    source=synthesise_count,
    splits=splits("demo_count_train", "demo_count_valid", "demo_count_test"),
    label="num_sources",
    classes=SOURCE_COUNTS,
    crop_seconds=1.0,
    weight=100,
    epochs=50,
    learning_rate=1e-2,
)
