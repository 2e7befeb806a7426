"""Demo: sound events — when beeps, buzzes, hisses and knocks sound within 4 s of noise.

Each kind has its own spectrum (a 0.7–1.4 kHz tone, a low harmonic buzz, a high noise band, trains
of damped low knocks), which a log-mel frame shows; but events overlap, their levels span 24 dB
(the faintest sink a little below the noise), and knocks leave quiet gaps between their strokes,
so a frame-wise linear head misses some. 15 % of the clips hold no event. Laid out like DESED (the
json is the clip's list of ``{onset, offset, label}``, scored by macro F1 on 0.5 s segments) and
stored as 16 kHz FLAC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pytest_xares.task import FrameTask, Task, splits
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

EVENTS_FORMAT = AudioFormat(16000, "FLAC", "PCM_16", "flac")


EVENT_CLASSES = ("beep", "buzz", "hiss", "knock")


EVENT_CLIP_SECONDS = 4.0


def synthesise_events(task: Task, folder: Path) -> None:
    """Train, valid and test shards of 4 s clips with 0 to 4 events of four kinds, as 16 kHz FLAC."""
    sizes = {"demo_events_train_000000.tar": 96, "demo_events_valid_000000.tar": 32, "demo_events_test_000000.tar": 32}
    write_task(task, folder, class_shards(4, sizes, lambda rng, _: _events_clip(rng)), EVENTS_FORMAT)


def _events_clip(rng: np.random.Generator) -> tuple[list[dict[str, Any]], np.ndarray]:
    """0 to 4 events (none in 15 % of the clips) at random times over brown-ish noise; events may
    overlap, and their levels span 24 dB, the faintest a little below the noise."""
    rate = EVENTS_FORMAT.rate
    audio = 0.02 * coloured_noise(rng, int(EVENT_CLIP_SECONDS * rate), rate, exponent=-1.5)
    events = []
    for _ in range(rng.choice(5, p=(0.15, 0.25, 0.3, 0.2, 0.1))):
        index = int(rng.integers(len(EVENT_CLASSES)))
        duration = rng.uniform(0.2, 1.0)
        onset = round(float(rng.uniform(0.0, EVENT_CLIP_SECONDS - duration)), 2)
        offset = round(onset + duration, 2)
        start, stop = int(round(onset * rate)), int(round(offset * rate))
        audio[start:stop] += 10 ** (rng.uniform(-36.0, -12.0) / 20) * _event_sound(rng, index, stop - start, rate)
        events.append({"onset": onset, "offset": offset, "label": EVENT_CLASSES[index]})
    return sorted(events, key=lambda e: (e["onset"], e["label"])), peak(rng, audio)


def _event_sound(rng: np.random.Generator, index: int, samples: int, rate: int) -> np.ndarray:
    """One event of ``EVENT_CLASSES[index]``, of unit RMS, faded in and out over 5 ms."""
    time = np.arange(samples) / rate
    name = EVENT_CLASSES[index]
    if name == "beep":  # a tone of 700 to 1400 Hz
        sound = harmonic_tone(rng, 1000.0 * 2 ** rng.uniform(-0.5, 0.5) * time, np.array([1.0, 0.2]))
    elif name == "buzz":  # a low harmonic buzz, fundamental 90 to 160 Hz
        f0 = 90.0 * 2 ** rng.uniform(0.0, 0.83)
        sound = tabulated_tone(rng, f0 * time, 1 / np.arange(1, int(4000 / f0)))
    elif name == "hiss":  # noise in a band somewhere within 2.5 to 7.5 kHz
        low = rng.uniform(2500.0, 4500.0)
        sound = band_noise(rng, samples, rate, low, low * rng.uniform(1.4, 1.7))
    else:  # knocks: damped 250–500 Hz resonances every 80 to 150 ms
        sound = np.zeros(samples)
        period, pitch = int(rng.uniform(0.08, 0.15) * rate), 250.0 * 2 ** rng.uniform(0.0, 1.0)
        decay = np.exp(-np.arange(period) / (0.02 * rate)) * np.sin(2 * np.pi * pitch * np.arange(period) / rate)
        for start in range(0, samples, period):
            sound[start : start + period] += decay[: samples - start]
    fade = np.minimum(1.0, np.minimum(np.arange(samples), np.arange(samples)[::-1]) / (0.005 * rate))
    return fade * sound / max(float(np.sqrt(np.mean(np.square(sound)))), 1e-9)


TASK = FrameTask(
    name="demo_events",
    formal_name="Demo: sound events",
    description="Synthetic: when beeps, buzzes, hisses and knocks sound within 4 s of noise.",
    reference="pytest_xares.tasks.demo.events (synthesised)",
    domain="sound",
    source=synthesise_events,
    splits=splits("demo_events_train", "demo_events_valid", "demo_events_test"),
    classes=EVENT_CLASSES,
    segment_seconds=0.5,
    average="macro",
    weight=100,
    epochs=15,
    batch_size=8,  # clips: 12 steps an epoch
    learning_rate=1e-2,
)
