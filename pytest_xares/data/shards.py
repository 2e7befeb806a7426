"""A task's WebDataset shards: ``<key>.<audio ext>`` plus ``<key>.json`` per sample.

The one reader (every run) and the one writer (the demo suite's synthesis, tests, benchmarks)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import webdataset

from pytest_xares.data.audio import AUDIO_EXTENSIONS
from pytest_xares.errors import DataError, MissingData

__all__ = [
    "DataError",
    "MissingData",
    "RawSample",
    "ShardSample",
    "encode_audio",
    "find_shards",
    "iter_samples",
    "write_shard",
]


@dataclass(frozen=True)
class RawSample:
    shard: str
    key: str
    audio: bytes
    metadata: Any

    @property
    def where(self) -> str:
        return f"shard {self.shard}, key {self.key!r}"


def find_shards(folder: Path, pattern: str) -> list[Path]:
    """The shards of one split, sorted by name so every process reads them in the same order."""
    if not folder.is_dir():
        raise MissingData(f"no data folder {folder}")
    found = sorted(path for path in folder.glob(pattern) if path.is_file())
    if not found:
        raise MissingData(f"no shards matching {pattern!r} in {folder}")
    return found


def iter_samples(shards: list[Path]) -> Iterator[RawSample]:
    """Every sample of the shards in order, with its raw audio bytes and parsed json."""
    for shard in shards:
        yield from _iter_shard(shard)


def _iter_shard(shard: Path) -> Iterator[RawSample]:
    pipeline = webdataset.WebDataset(
        [str(shard)], shardshuffle=False, empty_check=False, nodesplitter=None, workersplitter=None
    )
    samples = iter(pipeline)
    while True:
        try:
            sample = next(samples)
        except StopIteration:
            return
        except Exception as error:  # tarfile, OSError, ValueError: all mean a broken shard
            raise DataError(f"cannot read shard {shard}: {error}. Delete it and fetch it again.") from None
        yield _raw_sample(shard, sample)


def _raw_sample(shard: Path, sample: dict[str, Any]) -> RawSample:
    key = sample["__key__"]
    where = f"shard {shard.name}, key {key!r}"
    audio = next((sample[ext] for ext in AUDIO_EXTENSIONS if ext in sample), None)
    if audio is None:
        members = sorted(k for k in sample if not k.startswith("__"))
        raise DataError(f"{where}: no audio member (found {members}; expected one of {AUDIO_EXTENSIONS})")
    if "json" not in sample:
        raise DataError(f"{where}: no json metadata member")
    try:
        metadata = json.loads(sample["json"])
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{where}: the json metadata does not parse ({error})") from None
    return RawSample(shard.name, key, audio, metadata)


@dataclass(frozen=True)
class ShardSample:
    """One sample to write: encoded audio bytes under ``<key>.<extension>``, metadata as json."""

    key: str
    audio: bytes
    extension: str
    metadata: Any


def write_shard(path: Path, samples: list[ShardSample]) -> None:
    """Write a WebDataset tar shard, byte for byte the same for the same samples (members carry
    no time, owner or group)."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for sample in samples:
            _add_member(tar, f"{sample.key}.{sample.extension}", sample.audio)
            _add_member(tar, f"{sample.key}.json", json.dumps(sample.metadata).encode("utf-8"))


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid, info.gid, info.uname, info.gname = 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


def encode_audio(audio: np.ndarray, sampling_rate: int, extension: str, subtype: str | None = None) -> bytes:
    """Audio ``[samples]`` or ``[samples, channels]`` encoded as a file of type ``extension``."""
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, sampling_rate, format=extension.upper(), subtype=subtype)
    return buffer.getvalue()
