"""Deterministic synthesis of the demo tasks of the kinds beyond single-label classes: sound events
in time (``FrameTask``), tags (``MultiLabelTask``), a score (``RegressionTask``) and captions
(``RetrievalTask``). Written like ``demo``'s tasks (seeded generators, reproducible shards, md5s in
the record metadata), each in another audio format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xares.data.demo import AudioFormat, harmonic_tone, peak, class_shards, write_task
from pytest_xares.task import ClipTask

EVENTS_FORMAT = AudioFormat(16000, "FLAC", "PCM_16", "flac")
TAGS_FORMAT = AudioFormat(48000, "OGG", "VORBIS", "ogg")
BRIGHTNESS_FORMAT = AudioFormat(22050, "WAV", "PCM_16", "wav")
#: Variable bit rate at LAME's low end: encoding takes half the time, and loses nothing below 8 kHz.
CAPTIONS_FORMAT = AudioFormat(44100, "MP3", "MPEG_LAYER_III", "mp3", compression=0.9)

EVENT_CLASSES = ("beep", "buzz", "hiss", "knock")
EVENT_CLIP_SECONDS = 4.0
TAG_SOURCES = ("bell", "bird", "engine", "rain", "siren")

#: Each caption attribute's values, each value with the words that name it.
CAPTION_ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "pitch": {"low": ("low", "deep"), "middle": ("middle", "medium"), "high": ("high", "shrill")},
    "timbre": {"pure": ("pure", "clean", "whistling"), "buzzy": ("buzzy", "buzzing", "harsh"), "noisy": ("noisy", "hissing", "breathy")},
    "rhythm": {"steady": ("steady", "continuous", "constant"), "pulsing": ("pulsing", "beeping", "intermittent")},
}
#: One template per caption field; each clip's captions name its attributes in different words.
CAPTION_TEMPLATES = {
    "caption_1": "a {pitch} {timbre} tone that is {rhythm}",
    "caption_2": "a {rhythm} and {timbre} sound at a {pitch} pitch",
    "caption_3": "the sound is {timbre}, {pitch} and {rhythm}",
    "caption_4": "someone makes a {timbre} {rhythm} sound with a {pitch} pitch",
    "caption_5": "{pitch} {timbre} {rhythm} noise",
}
#: Every attribute combination, in a fixed order: (pitch, timbre, rhythm).
CAPTION_COMBINATIONS = tuple((p, t, r) for p in CAPTION_ATTRIBUTES["pitch"] for t in CAPTION_ATTRIBUTES["timbre"] for r in CAPTION_ATTRIBUTES["rhythm"])
#: The words of every demo caption, sorted.
CAPTION_WORDS = tuple(sorted(
    {w for text in CAPTION_TEMPLATES.values() for w in re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", text))}
    | {w for values in CAPTION_ATTRIBUTES.values() for words in values.values() for w in words}
))


def caption_tokenizer() -> Any:
    """A word-level tokenizer over the demo captions' vocabulary (``CAPTION_WORDS``)."""
    from pytest_xares.text import WordTokenizer

    return WordTokenizer(CAPTION_WORDS)


def synthesise_events(task: ClipTask, folder: Path) -> None:
    """Train, valid and test shards of 4 s clips with 0 to 4 events of four kinds, as 16 kHz FLAC."""
    sizes = {"demo_events_train_000000.tar": 96, "demo_events_valid_000000.tar": 32, "demo_events_test_000000.tar": 32}
    write_task(task, folder, class_shards(4, sizes, lambda rng, _: _events_clip(rng)), EVENTS_FORMAT)


def synthesise_tags(task: ClipTask, folder: Path) -> None:
    """Train, valid and test shards of 0.8–1.4 s mixtures of 0 to 3 of five sources, as 48 kHz Ogg Vorbis."""
    sizes = {"demo_tags_train_000000.tar": 96, "demo_tags_valid_000000.tar": 32, "demo_tags_test_000000.tar": 32}
    draw = lambda rng, _: _tags_clip(rng, task.label)  # noqa: E731
    write_task(task, folder, class_shards(5, sizes, draw), TAGS_FORMAT)


def synthesise_brightness(task: ClipTask, folder: Path) -> None:
    """Train and test shards of 0.5–1.5 s stereo harmonic tones with a rated brightness, as 22.05 kHz WAV."""
    sizes = {"demo_brightness_train_000000.tar": 120, "demo_brightness_test_000000.tar": 48}
    draw = lambda rng, _: _brightness_clip(rng, task.label)  # noqa: E731
    write_task(task, folder, class_shards(6, sizes, draw), BRIGHTNESS_FORMAT)


def synthesise_captions(task: ClipTask, folder: Path) -> None:
    """Development, evaluation and validation shards of 0.8–1.2 s sounds with five captions each, as 44.1 kHz MP3.

    Each shard has every attribute combination the same number of times (4, 2 and 1)."""
    per_combination = {
        "demo_captions_development_000000.tar": 4,
        "demo_captions_evaluation_000000.tar": 2,
        "demo_captions_validation_000000.tar": 1,
    }
    write_task(task, folder, class_shards(7, per_combination, _captions_clip, len(CAPTION_COMBINATIONS)), CAPTIONS_FORMAT)


# --- sound events ---------------------------------------------------------------------------------


def _events_clip(rng: np.random.Generator) -> tuple[list[dict[str, Any]], np.ndarray]:
    """0 to 4 events (none in 15 % of the clips) at random times over brown-ish noise; events may
    overlap, and their levels span 24 dB, the faintest a little below the noise."""
    rate = EVENTS_FORMAT.rate
    audio = 0.02 * _coloured_noise(rng, int(EVENT_CLIP_SECONDS * rate), rate, exponent=-1.5)
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
        sound = _tabulated_tone(rng, f0 * time, 1 / np.arange(1, int(4000 / f0)))
    elif name == "hiss":  # noise in a band somewhere within 2.5 to 7.5 kHz
        low = rng.uniform(2500.0, 4500.0)
        sound = _band_noise(rng, samples, rate, low, low * rng.uniform(1.4, 1.7))
    else:  # knocks: damped 250–500 Hz resonances every 80 to 150 ms
        sound = np.zeros(samples)
        period, pitch = int(rng.uniform(0.08, 0.15) * rate), 250.0 * 2 ** rng.uniform(0.0, 1.0)
        decay = np.exp(-np.arange(period) / (0.02 * rate)) * np.sin(2 * np.pi * pitch * np.arange(period) / rate)
        for start in range(0, samples, period):
            sound[start : start + period] += decay[: samples - start]
    fade = np.minimum(1.0, np.minimum(np.arange(samples), np.arange(samples)[::-1]) / (0.005 * rate))
    return fade * sound / max(float(np.sqrt(np.mean(np.square(sound)))), 1e-9)


# --- tags -----------------------------------------------------------------------------------------


def _tags_clip(rng: np.random.Generator, field: str) -> tuple[dict[str, str], np.ndarray]:
    """0 to 3 different sources mixed over pink noise, each 0 to 30 dB below the loudest level (the
    faintest under the noise); the label is their names in vocabulary order joined by ``;`` (empty
    for none)."""
    rate = TAGS_FORMAT.rate
    samples = int(rng.uniform(0.8, 1.4) * rate)
    chosen = sorted(rng.choice(len(TAG_SOURCES), size=rng.choice(4, p=(0.1, 0.35, 0.35, 0.2)), replace=False))
    audio = 0.02 * _coloured_noise(rng, samples, rate, exponent=-1.0)
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
        ring = sum(a * np.sin(2 * np.pi * base * r * time + rng.uniform(0, 2 * np.pi)) for r, a in ((1, 1), (2.76, 0.6), (5.4, 0.4), (8.93, 0.25)))
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
        sound = _tabulated_tone(rng, f0 * time, np.arange(1, int(3000 / f0)) ** -1.2)
        sound = sound * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(8.0, 15.0) * time))
    elif name == "rain":  # broadband noise above 1 kHz with crackles
        sound, crackles = _band_noise(rng, samples, rate, 1000.0, 12000.0), samples * 20 // rate  # 20 a second
        sound[rng.integers(0, samples, size=crackles)] += rng.normal(0.0, 8.0, crackles)
    else:  # siren: a 700–1100 Hz wail swinging by a third of its pitch, 0.5 to 2 times a second
        centre, speed = 700.0 * 2 ** rng.uniform(0.0, 0.65), rng.uniform(0.5, 2.0)
        frequency = centre * (1 + 0.3 * np.sin(2 * np.pi * speed * time + rng.uniform(0, 2 * np.pi)))
        sound = harmonic_tone(rng, np.cumsum(frequency) / rate, np.array([1.0, 0.3]))
    return sound / max(float(np.sqrt(np.mean(np.square(sound)))), 1e-9)


# --- brightness -----------------------------------------------------------------------------------


def _brightness_clip(rng: np.random.Generator, field: str) -> tuple[dict[str, float], np.ndarray]:
    """A harmonic tone (100–400 Hz) whose harmonics fall off as ``h^-tilt``, tilt 0.5 to 3, each
    harmonic ±3 dB; the rated brightness is ``4·(3 - tilt)`` plus a rater's noise (σ 0.8), clipped
    to 0–10 and rounded to a tenth. Both channels carry the tone, panned, over their own noise."""
    rate = BRIGHTNESS_FORMAT.rate
    time = np.arange(int(rng.uniform(0.5, 1.5) * rate)) / rate
    tilt, f0 = rng.uniform(0.5, 3.0), 100.0 * 2 ** rng.uniform(0.0, 2.0)
    harmonics = np.arange(1, int(10000 / f0) + 1)
    tone = _tabulated_tone(rng, f0 * time, harmonics**-tilt * 10 ** (rng.normal(0.0, 3.0, len(harmonics)) / 20))
    pan = rng.uniform(0.3, 0.7)
    noise = rng.normal(size=(len(time), 2)) * tone.std() * 10 ** (-rng.uniform(25.0, 40.0) / 20)
    score = round(float(np.clip(4.0 * (3.0 - tilt) + rng.normal(0.0, 0.8), 0.0, 10.0)), 1)
    return {field: score}, peak(rng, np.stack([(1 - pan) * tone, pan * tone], axis=1) + noise)


# --- captions -------------------------------------------------------------------------------------


def _captions_clip(rng: np.random.Generator, index: int) -> tuple[dict[str, str], np.ndarray]:
    """A sound of attribute combination ``CAPTION_COMBINATIONS[index]`` and its five captions."""
    pitch, timbre, rhythm = CAPTION_COMBINATIONS[index]
    rate = CAPTIONS_FORMAT.rate
    time = np.arange(int(rng.uniform(0.8, 1.2) * rate)) / rate
    f0 = {"low": 150.0, "middle": 400.0, "high": 1100.0}[pitch] * 2 ** rng.uniform(-0.4, 0.4)
    if timbre == "pure":
        sound = harmonic_tone(rng, f0 * time, np.array([1.0, 0.05]))
    elif timbre == "buzzy":
        sound = _tabulated_tone(rng, f0 * time, 1 / np.arange(1, int(8000 / f0)))
    else:
        sound = _band_noise(rng, len(time), rate, 1.5 * f0, 3.0 * f0)
    sound = sound / sound.std()
    if rhythm == "pulsing":  # on and off 3 to 6 times a second
        phase = (rng.uniform(3.0, 6.0) * time + rng.uniform()) % 1.0
        sound = sound * np.clip(np.minimum(phase, rng.uniform(0.4, 0.6) - phase) / 0.01, 0.0, 1.0)
    audio = sound + rng.normal(0.0, 10 ** (-rng.uniform(30.0, 45.0) / 20), len(time))
    words = {name: CAPTION_ATTRIBUTES[name][value] for name, value in zip(("pitch", "timbre", "rhythm"), CAPTION_COMBINATIONS[index])}
    captions = {
        field: template.format(**{name: choices[int(rng.integers(len(choices)))] for name, choices in words.items()})
        for field, template in CAPTION_TEMPLATES.items()
    }
    return captions, peak(rng, audio)


# --- signals --------------------------------------------------------------------------------------


def _tabulated_tone(rng: np.random.Generator, cycles: np.ndarray, amplitudes: np.ndarray, size: int = 4096) -> np.ndarray:
    """``demo.harmonic_tone`` read from one period tabulated at ``size`` points (linearly
    interpolated): the same tone, far faster when it has many harmonics."""
    table = harmonic_tone(rng, np.arange(size + 1) / size, amplitudes)  # the last point is the first again
    return np.interp((cycles - np.floor(cycles)) * size, np.arange(size + 1), table)



def _coloured_noise(rng: np.random.Generator, samples: int, rate: int, exponent: float) -> np.ndarray:
    """Noise of unit RMS whose power falls as ``f^exponent`` (above 20 Hz)."""
    length = 1 << (samples - 1).bit_length()  # a power of two: an FFT of prime length is slow
    frequencies = np.maximum(np.fft.rfftfreq(length, 1 / rate), 20.0)
    noise = np.fft.irfft(np.fft.rfft(rng.normal(size=length)) * frequencies ** (exponent / 2), length)[:samples]
    return noise / noise.std()


def _band_noise(rng: np.random.Generator, samples: int, rate: int, low: float, high: float) -> np.ndarray:
    """White noise kept between ``low`` and ``high`` Hz, of unit RMS."""
    length = 1 << (samples - 1).bit_length()
    frequencies = np.fft.rfftfreq(length, 1 / rate)
    noise = np.fft.irfft(np.fft.rfft(rng.normal(size=length)) * ((frequencies >= low) & (frequencies <= high)), length)[:samples]
    return noise / noise.std()
