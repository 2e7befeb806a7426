"""Reading a task's WebDataset shards: ``<key>.<audio ext>`` plus ``<key>.json`` per sample."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import webdataset

from pytest_xares.data.audio import AUDIO_EXTENSIONS


class DataError(RuntimeError):
    """The task's data is missing, unreadable or malformed; the message names the file and key."""


class MissingData(DataError):
    """A split has no shards where they are expected."""


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
