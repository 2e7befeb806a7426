"""A task's WebDataset shards: ``<key>.<audio ext>`` plus ``<key>.json`` per sample.

The one reader (every run) and the one writer (the demo suite's synthesis, tests, benchmarks)."""

from __future__ import annotations

import io
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import webdataset
from webdataset.tariterators import base_plus_ext

from pytest_xares.data.audio import AUDIO_EXTENSIONS, UNDECODED_EXTENSIONS
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
    """Every sample of the shards in order, with its raw audio bytes and parsed json.

    A shard cut short (without the tar's end-of-archive blocks) raises ``DataError`` before any of
    its samples is read; so does a malformed one (a key twice) when the reader reaches it."""
    for shard in shards:
        yield from _iter_shard(shard)


#: What a damaged file (a cut or corrupt download) raises while it is read.
_DAMAGED = (tarfile.TarError, EOFError, OSError, zlib.error)
#: What webdataset says of a member whose key and extension came before.
_DUPLICATE = re.compile(r"^(?P<name>.+?): duplicate file name in tar file ")
#: The first bytes of the compressed tars webdataset reads too (gzip, bzip2, xz, zstd).
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
#: A tar ends with two zero blocks of 512 bytes (padded with more zeros to a record).
_BLOCK, _END = 512, 1024
#: What to do about a cut or corrupt file.
_AGAIN = "Delete it and fetch it again, or restore it from where it came from."


def _iter_shard(shard: Path) -> Iterator[RawSample]:
    _check_complete(shard)
    pipeline = webdataset.WebDataset(
        [str(shard)], shardshuffle=False, empty_check=False, nodesplitter=None, workersplitter=None
    )
    samples, seen = iter(pipeline), set[str]()
    while True:
        try:
            sample = next(samples)
        except StopIteration:
            return
        except Exception as error:
            raise _unreadable(shard, error) from None
        if sample["__key__"] in seen:  # its members are not next to each other
            raise _malformed(shard, sample["__key__"], "has members in two places of the tar")
        seen.add(sample["__key__"])
        yield _raw_sample(shard, sample)


def _check_complete(shard: Path) -> None:
    """Raise ``DataError`` when the tar ends without its end-of-archive blocks: it was cut short,
    maybe exactly after a member, where a reader would take the samples so far for all of them.

    Cheap: the size and the last 1024 bytes. Every tar writer (Python's tarfile, and webdataset's
    and ``write_shard`` through it, GNU tar) ends the archive with 1024 zero bytes or more, in
    whole blocks of 512; a compressed tar is left to its decompressor, which notices a cut.
    """
    try:
        with open(shard, "rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            handle.seek(0)
            head = handle.read(6)
            handle.seek(max(0, size - _END))
            tail = handle.read(_END)
    except OSError as error:
        raise DataError(f"cannot read shard {shard}: {error.strerror or error}") from None
    if head.startswith(_COMPRESSED):
        return
    if size % _BLOCK or size < _END or tail.count(0) != _END:
        raise DataError(
            f"cannot read shard {shard}: it is truncated ({size} bytes, without the zero blocks that end every tar "
            f"archive), so the samples after the cut are missing. {_AGAIN}"
        )


def _unreadable(shard: Path, error: Exception) -> DataError:
    """What an error of the tar reader means: a damaged file (fetch it again) or a malformed one."""
    message = str(error.args[0]) if error.args else str(error)
    duplicate = _DUPLICATE.match(message) if isinstance(error, ValueError) else None
    if duplicate is not None:
        name = duplicate["name"]
        return _malformed(shard, base_plus_ext(name)[0] or name, f"has two members named {name!r}")
    if isinstance(error, _DAMAGED):
        return DataError(f"cannot read shard {shard}: {message}. The file is damaged. {_AGAIN}")
    return DataError(
        f"cannot read shard {shard}: {type(error).__name__}: {message}. It is not a WebDataset tar this reader "
        f"can use: check how it was written"
    )


def _malformed(shard: Path, key: str, what: str) -> DataError:
    """A shard written wrong: a new copy of the same file would not help."""
    return DataError(
        f"shard {shard}, key {key!r} {what}: the shard itself is malformed, so fetching it again gives the same "
        f"file. A key needs one member per extension, all next to each other: write the shard again that way, or "
        f"tell whoever made it"
    )


def _raw_sample(shard: Path, sample: dict[str, Any]) -> RawSample:
    key = sample["__key__"]
    where = f"shard {shard.name}, key {key!r}"
    audio = next((sample[ext] for ext in AUDIO_EXTENSIONS if ext in sample), None)
    if audio is None:
        members = sorted(k for k in sample if not k.startswith("__"))
        undecodable = [m for m in members if m.lower() in UNDECODED_EXTENSIONS]
        if undecodable:
            raise DataError(
                f"{where}: its audio is {undecodable[0]}, which pytest-xares does not decode (libsndfile has no AAC "
                f"or WMA decoder; no X-ARES task ships such members): convert the clips to flac, e.g. with ffmpeg"
            )
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
