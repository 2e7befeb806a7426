"""A task's data folder and what identifies its content.

Beside a record's shards lies its Zenodo metadata (``zenodo-record.json``: the ``/api/records/{id}``
answer, with an md5 checksum per file), so the content can be identified, and verified, without
reading hundreds of gigabytes or asking the network.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_xares.errors import XaresError
from pytest_xares.files import write_atomic

RECORD_FILE = "zenodo-record.json"
#: The empty file X-ARES leaves in a task folder once its download is done; written here too.
XARES_READY = ".audio_tar_ready"


class RecordError(XaresError, ValueError):
    """Record metadata that cannot be used (no file list, no md5, an unsafe file name)."""


@dataclass(frozen=True)
class RecordFile:
    key: str  # the file name, also its name on disk
    size: int
    md5: str  # hex digest
    link: str | None  # ``links.self`` as the server gave it

    def missing_from(self, folder: Path) -> bool:
        """Not at its final name with its full size (a file there was moved in only once verified)."""
        try:
            return (folder / self.key).stat().st_size != self.size
        except OSError:
            return True


@dataclass(frozen=True)
class Record:
    id: int | None
    files: tuple[RecordFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def missing(self, folder: Path) -> list[RecordFile]:
        return [f for f in self.files if f.missing_from(folder)]

    @classmethod
    def parse(cls, raw: Any) -> Record:
        """The files of an ``/api/records/{id}`` answer; raises ``RecordError``."""
        if not isinstance(raw, dict) or not isinstance(raw.get("files"), list):
            raise RecordError("the metadata has no 'files' list")
        files = []
        for entry in raw["files"]:
            try:
                key, size, checksum = entry["key"], int(entry["size"]), entry["checksum"]
            except (TypeError, KeyError, ValueError):
                raise RecordError(f"a file entry lacks key, size or checksum: {entry!r}") from None
            if not safe_name(key):
                raise RecordError(
                    f"unsafe file name {key!r}: refused (a record's files must have plain names inside its folder)"
                )
            algorithm, _, digest = str(checksum).partition(":")
            if algorithm != "md5" or len(digest) != 32:
                raise RecordError(f"file {key!r} has no md5 checksum ({checksum!r})")
            link = (entry.get("links") or {}).get("self")
            files.append(RecordFile(key, size, digest.lower(), link if isinstance(link, str) else None))
        return cls(raw.get("id") if isinstance(raw.get("id"), int) else None, tuple(files))


def safe_name(key: Any) -> bool:
    """A plain file name: no folder part, nothing to escape with, not hidden (temporary files and
    markers are) and not the metadata's own name."""
    return (
        isinstance(key, str)
        and key not in ("", ".", "..", RECORD_FILE)
        and not key.startswith(".")
        and not any(c in key for c in "/\\\0:")
        and key == os.path.basename(key)
    )


def read_record(folder: Path) -> Record | None:
    """The record kept in ``folder``, or ``None`` when there is none (or it is unreadable): the
    one reader of ``zenodo-record.json``."""
    try:
        return Record.parse(json.loads((folder / RECORD_FILE).read_text("utf-8")))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecordError):
        return None


def record_checksums(folder: Path) -> dict[str, str]:
    """File name → ``md5:<hex>`` from the record metadata kept in ``folder`` (empty if none)."""
    record = read_record(folder)
    return {} if record is None else {f.key: f"md5:{f.md5}" for f in record.files}


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Keep the metadata beside the files, written whole or not at all."""
    write_atomic(folder / RECORD_FILE, json.dumps(record, indent=1), option="--xares-data-dir")


def hash_file(path: Path, on_bytes: Callable[[int], None] = lambda n: None, chunk: int = 1 << 20) -> Any:
    """The md5 hasher fed with a file's bytes (``.hexdigest()`` is its checksum); each chunk's length
    goes to ``on_bytes``, for progress."""
    hasher = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            hasher.update(block)
            on_bytes(len(block))
    return hasher


def content_id(shards: list[Path], checksums: dict[str, str]) -> list[tuple[str, str]]:
    """What identifies the shards' content: the record's checksum where known, else size and mtime.

    A shard never listed in the metadata (an X-ARES ``env/`` folder, say) is identified by its
    size and modification time, as ``make`` does: reading every byte on every run would cost more
    than the evaluation.
    """
    ids = []
    for shard in shards:
        known = checksums.get(shard.name)
        if known is None:
            stat = shard.stat()
            known = f"stat:{stat.st_size}:{stat.st_mtime_ns}"
        ids.append((shard.name, known))
    return ids
