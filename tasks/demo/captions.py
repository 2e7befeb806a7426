"""Demo: captions — audio–text retrieval of sounds described by pitch, timbre and rhythm.

Every clip is one of 18 combinations (low, middle or high; pure, buzzy or noisy; steady or
pulsing), and its five captions name them in different words ("a deep harsh tone that is
intermittent"). Pitch shows plainly in pooled log-mel features; timbre and rhythm less so (a
noise band and a buzz's harmonics blur alike in the high mel bands, and pulsing shows in the mean
over frames only as the noise floor's share), so a clip is often matched to the captions of a
neighbouring combination. Laid out like Clotho (five ``caption_N`` fields per clip; the test split
is the ``validation`` shard, validation the ``evaluation`` one; recall@1 averaged over both
directions), tokenised by a word-level tokenizer over the captions' few words, and stored as
44.1 kHz MP3.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from pytest_xares.task import RetrievalTask, Task, splits
from pytest_xares.tasks.demo._synthesis import (
    AudioFormat,
    band_noise,
    class_shards,
    harmonic_tone,
    peak,
    tabulated_tone,
    write_task,
)

#: Variable bit rate at LAME's low end: encoding takes half the time, and loses nothing below 8 kHz.
CAPTIONS_FORMAT = AudioFormat(44100, "MP3", "MPEG_LAYER_III", "mp3", compression=0.9)


#: Each caption attribute's values, each value with the words that name it.
CAPTION_ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "pitch": {"low": ("low", "deep"), "middle": ("middle", "medium"), "high": ("high", "shrill")},
    "timbre": {
        "pure": ("pure", "clean", "whistling"),
        "buzzy": ("buzzy", "buzzing", "harsh"),
        "noisy": ("noisy", "hissing", "breathy"),
    },
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
CAPTION_COMBINATIONS = tuple(
    (p, t, r)
    for p in CAPTION_ATTRIBUTES["pitch"]
    for t in CAPTION_ATTRIBUTES["timbre"]
    for r in CAPTION_ATTRIBUTES["rhythm"]
)


#: The words of every demo caption, sorted.
CAPTION_WORDS = tuple(
    sorted(
        {w for text in CAPTION_TEMPLATES.values() for w in re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", text))}
        | {w for values in CAPTION_ATTRIBUTES.values() for words in values.values() for w in words}
    )
)


def caption_tokenizer() -> Any:
    """A word-level tokenizer over the demo captions' vocabulary (``CAPTION_WORDS``)."""
    from pytest_xares.task.text import WordTokenizer

    return WordTokenizer(CAPTION_WORDS)


def synthesise_captions(task: Task, folder: Path) -> None:
    """Development, evaluation and validation shards of 0.8–1.2 s sounds with five captions each, as 44.1 kHz MP3.

    Each shard has every attribute combination the same number of times (4, 2 and 1)."""
    per_combination = {
        "demo_captions_development_000000.tar": 4,
        "demo_captions_evaluation_000000.tar": 2,
        "demo_captions_validation_000000.tar": 1,
    }
    write_task(
        task, folder, class_shards(7, per_combination, _captions_clip, len(CAPTION_COMBINATIONS)), CAPTIONS_FORMAT
    )


def _captions_clip(rng: np.random.Generator, index: int) -> tuple[dict[str, str], np.ndarray]:
    """A sound of attribute combination ``CAPTION_COMBINATIONS[index]`` and its five captions."""
    pitch, timbre, rhythm = CAPTION_COMBINATIONS[index]
    rate = CAPTIONS_FORMAT.rate
    time = np.arange(int(rng.uniform(0.8, 1.2) * rate)) / rate
    f0 = {"low": 150.0, "middle": 400.0, "high": 1100.0}[pitch] * 2 ** rng.uniform(-0.4, 0.4)
    if timbre == "pure":
        sound = harmonic_tone(rng, f0 * time, np.array([1.0, 0.05]))
    elif timbre == "buzzy":
        sound = tabulated_tone(rng, f0 * time, 1 / np.arange(1, int(8000 / f0)))
    else:
        sound = band_noise(rng, len(time), rate, 1.5 * f0, 3.0 * f0)
    sound = sound / sound.std()
    if rhythm == "pulsing":  # on and off 3 to 6 times a second
        phase = (rng.uniform(3.0, 6.0) * time + rng.uniform()) % 1.0
        sound = sound * np.clip(np.minimum(phase, rng.uniform(0.4, 0.6) - phase) / 0.01, 0.0, 1.0)
    audio = sound + rng.normal(0.0, 10 ** (-rng.uniform(30.0, 45.0) / 20), len(time))
    words = {
        name: CAPTION_ATTRIBUTES[name][value]
        for name, value in zip(("pitch", "timbre", "rhythm"), CAPTION_COMBINATIONS[index])
    }
    captions = {
        field: template.format(**{name: choices[int(rng.integers(len(choices)))] for name, choices in words.items()})
        for field, template in CAPTION_TEMPLATES.items()
    }
    return captions, peak(rng, audio)


TASK = RetrievalTask(
    name="demo_captions",
    formal_name="Demo: captions",
    description="Synthetic: audio–text retrieval of sounds described by pitch, timbre and rhythm, five captions each.",
    reference="pytest_xares.tasks.demo.captions (synthesised)",
    domain="sound",
    source=synthesise_captions,
    splits=splits("demo_captions_development", "demo_captions_evaluation", "demo_captions_validation"),
    tokenizer=caption_tokenizer,
    width=64,
    weight=100,
    epochs=25,
    learning_rate=3e-3,
)
