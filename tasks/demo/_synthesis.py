"""What the demo tasks are written with: seeded shards of labelled samples, audio formats, the
signals the tasks build their sounds from, and the writing of shards and record metadata.

Every random choice comes from a generator seeded by a constant, the tar headers carry no time or
owner, and Ogg streams get a fixed serial number (libsndfile draws one from the clock), so two
syntheses on one machine give the same bytes (``numpy``'s transcendental functions may round
differently on another CPU, so other machines may differ in the last bit of a sample). Each demo
task's module holds its own synthesiser beside its definition.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from pytest_xares.data.records import write_record
from pytest_xares.data.shards import ShardSample, write_shard
from pytest_xares.task import Task

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


def labelled(
    seed: int, per_class: dict[str, int], field: str, labels: Sequence[Any], synth: Synth
) -> dict[str, Samples]:
    """``class_shards`` of a classification task: each sample's json is ``{field: its label}``."""
    return class_shards(seed, per_class, lambda rng, index: ({field: labels[index]}, synth(rng, index)), len(labels))


def harmonic_tone(rng: np.random.Generator, cycles: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    """``Σₕ amplitudes[h-1]·sin(2π·h·cycles + φₕ)`` with random phases φₕ: a tone following ``cycles``.

    The phase is reduced to one cycle in float64 first, so the fast float32 sine stays exact.
    """
    angle = (2 * np.pi * (cycles - np.floor(cycles))).astype(np.float32)
    harmonics = np.arange(1, len(amplitudes) + 1, dtype=np.float32)[:, None]
    phases = rng.uniform(0.0, 2 * np.pi, (len(amplitudes), 1)).astype(np.float32)
    return amplitudes.astype(np.float32) @ np.sin(harmonics * angle + phases)


def add_noise(rng: np.random.Generator, signal: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus white noise ``snr_db`` below its power."""
    return signal + rng.normal(size=signal.shape) * signal.std() * 10 ** (-snr_db / 20)


def peak(rng: np.random.Generator, audio: np.ndarray) -> np.ndarray:
    """Scale to a random peak between -20 dBFS and -1 dBFS, so 16-bit PCM never clips."""
    return audio * (10 ** (-rng.uniform(1.0, 20.0) / 20) / np.abs(audio).max())


def tabulated_tone(
    rng: np.random.Generator, cycles: np.ndarray, amplitudes: np.ndarray, size: int = 4096
) -> np.ndarray:
    """``harmonic_tone`` read from one period tabulated at ``size`` points (linearly
    interpolated): the same tone, far faster when it has many harmonics."""
    table = harmonic_tone(rng, np.arange(size + 1) / size, amplitudes)  # the last point is the first again
    return np.interp((cycles - np.floor(cycles)) * size, np.arange(size + 1), table)


def coloured_noise(rng: np.random.Generator, samples: int, rate: int, exponent: float) -> np.ndarray:
    """Noise of unit RMS whose power falls as ``f^exponent`` (above 20 Hz)."""
    length = 1 << (samples - 1).bit_length()  # a power of two: an FFT of prime length is slow
    frequencies = np.maximum(np.fft.rfftfreq(length, 1 / rate), 20.0)
    noise = np.fft.irfft(np.fft.rfft(rng.normal(size=length)) * frequencies ** (exponent / 2), length)[:samples]
    return noise / noise.std()


def band_noise(rng: np.random.Generator, samples: int, rate: int, low: float, high: float) -> np.ndarray:
    """White noise kept between ``low`` and ``high`` Hz, of unit RMS."""
    length = 1 << (samples - 1).bit_length()
    frequencies = np.fft.rfftfreq(length, 1 / rate)
    noise = np.fft.irfft(np.fft.rfft(rng.normal(size=length)) * ((frequencies >= low) & (frequencies <= high)), length)[
        :samples
    ]
    return noise / noise.std()


def write_task(task: Task, folder: Path, shards: dict[str, Samples], form: AudioFormat) -> None:
    """Write every shard and the record metadata listing them with their md5 checksums."""
    for pattern in task.splits.patterns():
        if not any(fnmatch.fnmatchcase(name, pattern) for name in shards):
            raise ValueError(f"task {task.name}: no synthesised shard matches its split {pattern!r}")
    files = [_write_shard(folder / name, samples, form) for name, samples in shards.items()]
    write_record(folder, {"id": None, "files": files})


def _write_shard(path: Path, samples: Samples, form: AudioFormat) -> dict[str, Any]:
    """A tar of ``<key>.<ext>`` + ``<key>.json`` members; returns the shard's record entry."""
    write_shard(
        path,
        [
            ShardSample(f"{path.stem}-{number:04d}", _encode(audio, form), form.extension, metadata)
            for number, (metadata, audio) in enumerate(samples)
        ],
    )
    data = path.read_bytes()
    return {"key": path.name, "size": len(data), "checksum": f"md5:{hashlib.md5(data).hexdigest()}"}


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
