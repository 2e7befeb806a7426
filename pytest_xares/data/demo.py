"""Deterministic synthesis of the demo suite's shards: small, offline stand-ins for X-ARES records.

Each ``synthesise_*`` function writes a task's tar shards (``<key>.<audio>`` + ``<key>.json`` per
sample) and its record metadata, with md5 checksums, into an empty folder. Every random choice
comes from a generator seeded by a constant, the tar headers carry no time or owner, and Ogg
streams get a fixed serial number (libsndfile draws one from the clock), so two syntheses on one
machine give the same bytes (``numpy``'s transcendental functions may round differently on another
CPU, so other machines may differ in the last bit of a sample).

This module holds the three classification tasks and the shared writing; ``demo_kinds`` holds the
tasks of the other kinds (events, tags, a score, captions).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from pytest_xares.data.records import write_record
from pytest_xares.task import ClipTask

#: Draws one clip of a class: ``(rng, class index) -> audio``, ``[samples]`` or ``[samples, channels]``.
Synth = Callable[[np.random.Generator, int], np.ndarray]
#: Draws one sample of a class: ``(rng, class index) -> (json metadata, audio)``.
Draw = Callable[[np.random.Generator, int], tuple[Any, np.ndarray]]
#: A shard's samples: (json metadata, audio) pairs; the metadata may be any json value.
Samples = list[tuple[Any, np.ndarray]]


@dataclass(frozen=True)
class AudioFormat:
    rate: int
    container: str  # soundfile's format name
    subtype: str
    extension: str
    #: soundfile's ``compression_level`` (0 to 1) for lossy formats; ``None``: libsndfile's default.
    compression: float | None = None


PITCH_FORMAT = AudioFormat(22050, "FLAC", "PCM_16", "flac")
TEXTURE_FORMAT = AudioFormat(44100, "WAV", "PCM_16", "wav")
COUNT_FORMAT = AudioFormat(16000, "WAV", "PCM_16", "wav")

#: Fundamentals of the pitch classes, three semitones apart (A3 to F#5).
PITCH_CENTRES = tuple(220.0 * 2 ** (3 * k / 12) for k in range(8))
TEXTURES = ("white", "pink", "brown", "lowband", "midband", "highband")
SOURCE_COUNTS = (1, 2, 3, 4, 5)


def synthesise_pitch(task: ClipTask, folder: Path) -> None:
    """Four folds of 1 s harmonic tones, 15 per class per fold, as 22.05 kHz FLAC."""
    folds = {f"wds-audio-fold-{k}-000000.tar": 15 for k in range(1, 5)}
    write_task(task, folder, _labelled(1, folds, task.label, range(len(PITCH_CENTRES)), _pitch_clip), PITCH_FORMAT)


def synthesise_texture(task: ClipTask, folder: Path) -> None:
    """Train, valid and test shards of 0.4–0.8 s stereo noise textures as 44.1 kHz WAV."""
    per_class = {"wds-audio-train-000000.tar": 24, "wds-audio-valid-000000.tar": 8, "wds-audio-test-000000.tar": 8}
    write_task(task, folder, _labelled(2, per_class, task.label, TEXTURES, _texture_clip), TEXTURE_FORMAT)


def synthesise_count(task: ClipTask, folder: Path) -> None:
    """Train, valid and test shards of 0.6–3.5 s mixtures of 1 to 5 voices as 16 kHz WAV."""
    per_class = {"demo_count_train_000000.tar": 48, "demo_count_valid_000000.tar": 12, "demo_count_test_000000.tar": 12}
    write_task(task, folder, _labelled(3, per_class, task.label, SOURCE_COUNTS, _count_clip), COUNT_FORMAT)


def class_shards(seed: int, per_class: dict[str, int], draw: Draw, classes: int = 1) -> dict[str, Samples]:
    """Each named shard with ``per_class[name]`` samples of each of ``classes`` classes, shuffled,
    drawn by ``draw`` (a task without classes has one).

    Shard ``i`` has its own generator, seeded ``(seed, i)``.
    """
    shards = {}
    for number, (name, count) in enumerate(per_class.items()):
        rng = np.random.default_rng((seed, number))
        order = rng.permutation(np.repeat(np.arange(classes), count))
        shards[name] = [draw(rng, int(index)) for index in order]
    return shards


def _labelled(seed: int, per_class: dict[str, int], field: str, labels: Sequence[Any], synth: Synth) -> dict[str, Samples]:
    """``class_shards`` of a classification task: each sample's json is ``{field: its label}``."""
    return class_shards(seed, per_class, lambda rng, index: ({field: labels[index]}, synth(rng, index)), len(labels))


def _pitch_clip(rng: np.random.Generator, index: int) -> np.ndarray:
    """A harmonic tone whose fundamental strays about a semitone from its class centre, in noise.

    Neighbouring classes are three semitones apart, so their fundamentals overlap now and then;
    random harmonic amplitudes change the timbre, so no single mel band gives the class away.
    """
    rate = PITCH_FORMAT.rate
    time = np.arange(rate) / rate
    f0 = PITCH_CENTRES[index] * 2 ** (rng.normal(0.0, 1.2) / 12)
    tone = harmonic_tone(rng, f0 * time, rng.uniform(0.0, 1.0, 8) / np.arange(1, 9))
    return peak(rng, _add_noise(rng, tone, snr_db=rng.uniform(20.0, 40.0)))


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


def harmonic_tone(rng: np.random.Generator, cycles: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """``Σₕ amplitudes[h-1]·sin(2π·h·cycles + φₕ)`` with random phases φₕ: a tone following ``cycles``.

    The phase is reduced to one cycle in float64 first, so the fast float32 sine stays exact.
    """
    angle = (2 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    harmonics = np.arange(1, len(amplitudes) + 1, dtype=np.float32)[:, None]
    phases = rng.uniform(0.0, 2 * np.pi, (len(amplitudes), 1)).astype(np.float32)
    return amplitudes.astype(np.float32) @ np.sin(harmonics * angle + phases)


def _add_noise(rng: np.random.Generator, signal: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus white noise ``snr_db`` below its power."""
    return signal + rng.normal(size=signal.shape) * signal.std() * 10 ** (-snr_db / 20)


def peak(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """Scale to a random peak between -20 dBFS and -1 dBFS, so 16-bit PCM never clips."""
    return audio * (10 ** (-rng.uniform(1.0, 20.0) / 20) / np.abs(audio).max())


def write_task(task: ClipTask, folder: Path, shards: dict[str, Samples], form: AudioFormat) -> None:
    """Write every shard and the record metadata listing them with their md5 checksums."""
    for pattern in task.splits.patterns():
        if not any(fnmatch.fnmatchcase(name, pattern) for name in shards):
            raise ValueError(f"task {task.name}: no synthesised shard matches its split {pattern!r}")
    files = [_write_shard(folder / name, samples, form) for name, samples in shards.items()]
    write_record(folder, {"id": None, "files": files})


def _write_shard(path: Path, samples: Samples, form: AudioFormat) -> dict[str, Any]:
    """A tar of ``<key>.<ext>`` + ``<key>.json`` members; returns the shard's record entry."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for number, (metadata, audio) in enumerate(samples):
            key = f"{path.stem}-{number:04d}"
            _add_member(tar, f"{key}.{form.extension}", _encode(audio, form))
            _add_member(tar, f"{key}.json", json.dumps(metadata).encode("utf-8"))
    data = path.read_bytes()
    return {"key": path.name, "size": len(data), "checksum": f"md5:{hashlib.md5(data).hexdigest()}"}


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """A regular file member with no time, owner or group, so the tar bytes are reproducible."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def _encode(audio: np.ndarray, form: AudioFormat) -> bytes:
    buffer = io.BytesIO()
    options = {} if form.compression is None else {"compression_level": form.compression}
    soundfile.write(buffer, audio, form.rate, format=form.container, subtype=form.subtype, **options)
    return _fixed_ogg_serial(buffer.getvalue()) if form.container == "OGG" else buffer.getvalue()


#: Each byte with its bits in reverse order, for ``_ogg_crc``.
_REVERSED_BITS = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _fixed_ogg_serial(data: bytes, serial: int = 0x58415253) -> bytes:
    """An Ogg file with every page's stream serial number set to ``serial`` and its CRC redone.

    libsndfile seeds the serial from the clock, the only thing that differs between two
    encodings of the same audio; a file holds one stream, so any fixed serial is valid.
    """
    pages, position = bytearray(data), 0
    while position < len(pages):
        if pages[position : position + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {position}")
        segments = pages[position + 26]
        end = position + 27 + segments + sum(pages[position + 27 : position + 27 + segments])
        pages[position + 14 : position + 18] = serial.to_bytes(4, "little")
        pages[position + 22 : position + 26] = bytes(4)
        pages[position + 22 : position + 26] = _ogg_crc(bytes(pages[position:end])).to_bytes(4, "little")
        position = end
    return bytes(pages)


def _ogg_crc(page: bytes) -> int:
    """Ogg's page checksum (CRC-32, polynomial 0x04C11DB7, unreflected, no initial value or final
    xor), through zlib's reflected CRC-32 of the bit-reversed bytes; zlib's initial value and
    final xor cancel against the CRC of as many zero bytes."""
    reflected = zlib.crc32(page.translate(_REVERSED_BITS)) ^ zlib.crc32(bytes(len(page)))
    return int(f"{reflected:032b}"[::-1], 2)
