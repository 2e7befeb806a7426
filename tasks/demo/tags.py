"""Demo: sound tags — which of five sources (bell, bird, engine, rain, siren) sound in a mixture.

A clip mixes none to three sources over pink noise, each with its own spectral signature, which
pooled log-mel features show; but a source may lie 30 dB below the loudest level, under the
noise, and bells and sirens share bands, so faint sources are missed. Laid out like FSD50k (the label field holds the class names
joined by ``;``, scored by macro mAP; here it may also be empty) and stored as 48 kHz Ogg Vorbis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.task import MultiLabelTask, Task, splits
from pytest_xares.tasks.demo._synthesis import (
    AudioFormat,
    band_noise,
    class_shards,
    coloured_noise,
    harmonic_tone,
    peak,
    tabulated_tone,
    write_task,
)

TAGS_FORMAT = AudioFormat(48000, "OGG", "VORBIS", "ogg")


TAG_SOURCES = ("bell", "bird", "engine", "rain", "siren")


def synthesise_tags(task: Task, folder: Path) -> None:
    """Train, valid and test shards of 0.8–1.4 s mixtures of 0 to 3 of five sources, as 48 kHz Ogg Vorbis."""
    sizes = {"demo_tags_train_000000.tar": 96, "demo_tags_valid_000000.tar": 32, "demo_tags_test_000000.tar": 32}
    draw = lambda rng, _: _tags_clip(rng, task.label)
    write_task(task, folder, class_shards(5, sizes, draw), TAGS_FORMAT)


def _tags_clip(rng: np.random.Generator, field: str) -> tuple[dict[str, str], np.ndarray]:
    """0 to 3 different sources mixed over pink noise, each 0 to 30 dB below the loudest level (the
    faintest under the noise); the label is their names in vocabulary order joined by ``;`` (empty
    for none)."""
    rate = TAGS_FORMAT.rate
    samples = int(rng.uniform(0.8, 1.4) * rate)
    chosen = sorted(rng.choice(len(TAG_SOURCES), size=rng.choice(4, p=(0.1, 0.35, 0.35, 0.2)), replace=False))
    audio = 0.02 * coloured_noise(rng, samples, rate, exponent=-1.0)
    for index in chosen:
        audio += 0.1 * 10 ** (-rng.uniform(0.0, 30.0) / 20) * _tag_source(rng, int(index), samples, rate)
    return {field: ";".join(TAG_SOURCES[int(i)] for i in chosen)}, peak(rng, audio)


def _tag_source(rng: np.random.Generator, index: int, samples: int, rate: int) -> np.ndarray:
    """``samples`` of source ``TAG_SOURCES[index]`` with its own random details, of unit RMS."""
    time = np.arange(samples) / rate
    name = TAG_SOURCES[index]
    if name == "bell":  # struck once or twice: inharmonic partials of 500–900 Hz decaying
        sound = np.zeros(samples)
        base = 500.0 * 2 ** rng.uniform(0.0, 0.85)
        ring = sum(
            a * np.sin(2 * np.pi * base * r * time + rng.uniform(0, 2 * np.pi))
            for r, a in ((1, 1), (2.76, 0.6), (5.4, 0.4), (8.93, 0.25))
        )
        ring = ring * np.exp(-time / rng.uniform(0.3, 0.6))
        for start in sorted(rng.integers(0, samples // 2, size=rng.integers(1, 3))):
            sound[start:] += ring[: samples - start]
    elif name == "bird":  # 3 to 8 chirps sweeping within 2.5–6 kHz
        sound = np.zeros(samples)
        for _ in range(rng.integers(3, 9)):
            length = int(rng.uniform(0.05, 0.15) * rate)
            start = int(rng.integers(0, samples - length))
            sweep = np.linspace(*rng.uniform(2500.0, 6000.0, 2), length)
            sound[start : start + length] += np.hanning(length) * np.sin(2 * np.pi * np.cumsum(sweep) / rate)
    elif name == "engine":  # a 35–70 Hz harmonic rumble with a 8–15 Hz flutter
        f0 = 35.0 * 2 ** rng.uniform(0.0, 1.0)
        sound = tabulated_tone(rng, f0 * time, np.arange(1, int(3000 / f0)) ** -1.2)
        sound = sound * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(8.0, 15.0) * time))
    elif name == "rain":  # broadband noise above 1 kHz with crackles
        sound, crackles = band_noise(rng, samples, rate, 1000.0, 12000.0), samples * 20 // rate  # 20 a second
        sound[rng.integers(0, samples, size=crackles)] += rng.normal(0.0, 8.0, crackles)
    else:  # siren: a 700–1100 Hz wail swinging by a third of its pitch, 0.5 to 2 times a second
        centre, speed = 700.0 * 2 ** rng.uniform(0.0, 0.65), rng.uniform(0.5, 2.0)
        frequency = centre * (1 + 0.3 * np.sin(2 * np.pi * speed * time + rng.uniform(0, 2 * np.pi)))
        sound = harmonic_tone(rng, np.cumsum(frequency) / rate, np.array([1.0, 0.3]))
    return sound / max(float(np.sqrt(np.mean(np.square(sound)))), 1e-9)


TASK = MultiLabelTask(
    name="demo_tags",
    formal_name="Demo: sound tags",
    description="Synthetic: which of five sources (bell, bird, engine, rain, siren) sound in a mixture (multi-label).",
    reference="pytest_xares.tasks.demo.tags (synthesised)",
    domain="sound",
    source=synthesise_tags,
    splits=splits("demo_tags_train", "demo_tags_valid", "demo_tags_test"),
    label="soundevent",
    classes=TAG_SOURCES,
    weight=100,
    epochs=50,
    learning_rate=1e-2,
)
