"""Demo: pitch classes — which of 8 fundamentals, three semitones apart, a noisy harmonic tone has.

The harmonics' positions give the class away to a mel spectrum, but each fundamental strays about
a semitone from its class centre (so neighbouring classes overlap) and the harmonics' amplitudes
are random, so no single band decides it. Laid out like ESC-50 (k-fold, the label field holds the
class index) and stored as 22.05 kHz FLAC, so the engine must resample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.task import ClipTask, Task, folds
from pytest_xares.tasks.demo._synthesis import (
    AudioFormat,
    add_noise,
    harmonic_tone,
    labelled,
    peak,
    write_task,
)

PITCH_FORMAT = AudioFormat(22050, "FLAC", "PCM_16", "flac")


#: Fundamentals of the pitch classes, three semitones apart (A3 to F#5).
PITCH_CENTRES = tuple(220.0 * 2 ** (3 * k / 12) for k in range(8))


def synthesise_pitch(task: Task, folder: Path) -> None:
    """Four folds of 1 s harmonic tones, 15 per class per fold, as 22.05 kHz FLAC."""
    folds = {f"wds-audio-fold-{k}-000000.tar": 15 for k in range(1, 5)}
    write_task(task, folder, labelled(1, folds, task.label, range(len(PITCH_CENTRES)), _pitch_clip), PITCH_FORMAT)


def _pitch_clip(rng: np.random.Generator, index: int) -> np.ndarray:
    """A harmonic tone whose fundamental strays about a semitone from its class centre, in noise.

    Neighbouring classes are three semitones apart, so their fundamentals overlap now and then;
    random harmonic amplitudes change the timbre, so no single mel band gives the class away.
    """
    rate = PITCH_FORMAT.rate
    time = np.arange(rate) / rate
    f0 = PITCH_CENTRES[index] * 2 ** (rng.normal(0.0, 1.2) / 12)
    tone = harmonic_tone(rng, f0 * time, rng.uniform(0.0, 1.0, 8) / np.arange(1, 9))
    return peak(rng, add_noise(rng, tone, snr_db=rng.uniform(20.0, 40.0)))


TASK = ClipTask(
    name="demo_pitch",
    formal_name="Demo: pitch classes",
    description="Synthetic: which of 8 fundamentals, three semitones apart, a noisy harmonic tone has (4 folds).",
    reference="pytest_xares.tasks.demo.pitch (synthesised)",
    domain="music",
    source=synthesise_pitch,
    splits=folds(range(1, 5)),
    label="label",
    classes=len(PITCH_CENTRES),
    weight=200,
    epochs=50,
    learning_rate=1e-2,
)
