"""Demo: noise textures — the louder of two mixed noise colours or bands.

Each texture has its own spectral shape, which a mel spectrum shows plainly; but every clip mixes
in a second texture 1 to 10 dB below the first, and each shape's tilt or band is jittered, so
close mixes are hard to call. Laid out like CREMA-D (train/valid/test, string labels) and stored
as 44.1 kHz stereo WAV of varying length, so the engine must down-mix, resample and batch unequal
clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pytest_xares.task import ClipTask, Task, splits
from pytest_xares.tasks.demo._synthesis import AudioFormat, labelled, peak, write_task

TEXTURE_FORMAT = AudioFormat(44100, "WAV", "PCM_16", "wav")


TEXTURES = ("white", "pink", "brown", "lowband", "midband", "highband")


def synthesise_texture(task: Task, folder: Path) -> None:
    """Train, valid and test shards of 0.4–0.8 s stereo noise textures as 44.1 kHz WAV."""
    per_class = {"wds-audio-train-000000.tar": 24, "wds-audio-valid-000000.tar": 8, "wds-audio-test-000000.tar": 8}
    write_task(task, folder, labelled(2, per_class, task.label, TEXTURES, _texture_clip), TEXTURE_FORMAT)


def _texture_clip(rng: np.random.Generator, index: int) -> np.ndarray:
    """Stereo noise of one texture mixed with a weaker one of another, both spectra jittered.

    The label is the louder texture; the other is 1 to 10 dB below it, so at the near end the mix
    is hard to call.
    """
    rate = TEXTURE_FORMAT.rate
    samples = int(rng.uniform(0.4, 0.8) * rate)
    length = 1 << (samples - 1).bit_length()  # a power of two: an FFT of prime length is slow
    frequencies = np.fft.rfftfreq(length, 1 / rate)
    other = (index + rng.integers(1, len(TEXTURES))) % len(TEXTURES)
    gain = 10 ** (-rng.uniform(1.0, 10.0) / 20)
    power = _texture_power(rng, index, frequencies) + gain**2 * _texture_power(rng, other, frequencies)
    spectrum = np.fft.rfft(rng.normal(size=(2, length)), axis=1) * np.sqrt(power)
    return peak(rng, np.fft.irfft(spectrum, length, axis=1)[:, :samples].T)


def _texture_power(rng: np.random.Generator, index: int, frequencies: np.ndarray) -> np.ndarray:
    """A texture's power spectrum, of unit mean below 8 kHz, with a random tilt or band shift."""
    f = np.maximum(frequencies, 20.0)
    name = TEXTURES[index]
    if name in ("white", "pink", "brown"):
        exponent = {"white": 0.0, "pink": -1.0, "brown": -2.0}[name] + rng.normal(0.0, 0.25)
        power = f**exponent
    else:
        centre = {"lowband": 300.0, "midband": 1500.0, "highband": 5000.0}[name] * 2 ** rng.normal(0.0, 0.4)
        power = np.exp(-0.5 * (np.log2(f / centre) / 0.6) ** 2) + 1e-3
    return power / power[frequencies < 8000].mean()


TASK = ClipTask(
    name="demo_texture",
    formal_name="Demo: noise textures",
    description="Synthetic: the louder of two mixed noise textures (6 colours or bands), clips of unequal length.",
    reference="pytest_xares.tasks.demo.texture (synthesised)",
    domain="sound",
    source=synthesise_texture,
    splits=splits("wds-audio-train", "wds-audio-valid", "wds-audio-test"),
    label="texture",
    classes=TEXTURES,
    weight=150,
    epochs=50,
    learning_rate=1e-2,
)
