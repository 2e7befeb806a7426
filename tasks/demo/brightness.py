"""Demo: brightness — a rated score (0 to 10) of how bright a harmonic tone sounds.

The score follows how steeply the harmonics fall off, which shows as the slope of the log-mel
spectrum: learnable from pooled features. But the fundamental varies two octaves, each harmonic
is ±3 dB off its slope, and the rating carries a rater's noise (σ 0.8 of a point), so no probe
reaches a perfect correlation. Laid out like speechocean762 (a number per clip, train and test
shards, the test split doubling as validation, scored by Pearson correlation) and stored as
22.05 kHz stereo WAV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.task import RegressionTask, Task, splits
from pytest_xares.tasks.demo._synthesis import (
    AudioFormat,
    class_shards,
    peak,
    tabulated_tone,
    write_task,
)

BRIGHTNESS_FORMAT = AudioFormat(22050, "WAV", "PCM_16", "wav")


def synthesise_brightness(task: Task, folder: Path) -> None:
    """Train and test shards of 0.5–1.5 s stereo harmonic tones with a rated brightness, as 22.05 kHz WAV."""
    sizes = {"demo_brightness_train_000000.tar": 120, "demo_brightness_test_000000.tar": 48}
    draw = lambda rng, _: _brightness_clip(rng, task.label)
    write_task(task, folder, class_shards(6, sizes, draw), BRIGHTNESS_FORMAT)


def _brightness_clip(rng: np.random.Generator, field: str) -> tuple[dict[str, float], np.ndarray]:
    """A harmonic tone (100–400 Hz) whose harmonics fall off as ``h^-tilt``, tilt 0.5 to 3, each
    harmonic ±3 dB; the rated brightness is ``4·(3 - tilt)`` plus a rater's noise (σ 0.8), clipped
    to 0–10 and rounded to a tenth. Both channels carry the tone, panned, over their own noise."""
    rate = BRIGHTNESS_FORMAT.rate
    time = np.arange(int(rng.uniform(0.5, 1.5) * rate)) / rate
    tilt, f0 = rng.uniform(0.5, 3.0), 100.0 * 2 ** rng.uniform(0.0, 2.0)
    harmonics = np.arange(1, int(10000 / f0) + 1)
    tone = tabulated_tone(rng, f0 * time, harmonics**-tilt * 10 ** (rng.normal(0.0, 3.0, len(harmonics)) / 20))
    pan = rng.uniform(0.3, 0.7)
    noise = rng.normal(size=(len(time), 2)) * tone.std() * 10 ** (-rng.uniform(25.0, 40.0) / 20)
    score = round(float(np.clip(4.0 * (3.0 - tilt) + rng.normal(0.0, 0.8), 0.0, 10.0)), 1)
    return {field: score}, peak(rng, np.stack([(1 - pan) * tone, pan * tone], axis=1) + noise)


TASK = RegressionTask(
    name="demo_brightness",
    formal_name="Demo: brightness",
    description="Synthetic: a rated score (0 to 10) of how bright a harmonic tone sounds (regression).",
    reference="pytest_xares.tasks.demo.brightness (synthesised)",
    domain="sound",
    source=synthesise_brightness,
    splits=splits("demo_brightness_train", "demo_brightness_test", "demo_brightness_test"),
    label="brightness",
    weight=100,
    epochs=50,
    learning_rate=3e-2,
)
