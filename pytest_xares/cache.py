"""The content-keyed cache of embeddings, scores and encoder checks.

Every entry lives at a path derived from a hash of everything that determines it, so a changed
encoder, task, data file, seed or engine never finds a stale entry. Entries are written to a
temporary file in the same folder and renamed into place, so a killed run leaves either the old
state or the complete new entry, never half of one; a file lock beside each entry makes concurrent
workers and runs compute it once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import filelock
import numpy as np

T = TypeVar("T")


class CacheError(RuntimeError):
    """The cache directory cannot be written (full disk, permissions)."""


def digest(*parts: Any) -> str:
    """A stable hex digest of JSON-serialisable parts (dict order does not matter)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache:
    """Files under one root: ``embeddings/<task>/<key>.npz``, ``results/<task>/<key>.json``,
    ``checks/<encoder fingerprint>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, kind: str, group: str, key: str, suffix: str) -> Path:
        return self.root / kind / group / f"{key}{suffix}"

    @contextlib.contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold the lock of one entry; other processes wanting the same entry wait here."""
        _mkdir(path.parent)
        with filelock.FileLock(str(path) + ".lock"):
            yield

    def get_or_create(self, path: Path, load: Callable[[Path], T], create: Callable[[Path], T]) -> tuple[T, bool]:
        """Load the entry at ``path``, or create it under its lock; returns (value, was cached).

        ``create`` receives the final path and must write it through ``write_atomic``.
        """
        if path.exists():
            return load(path), True
        with self.locked(path):
            if path.exists():  # another process finished it while we waited
                return load(path), True
            return create(path), False

    # JSON entries -------------------------------------------------------------------------

    def read_json(self, path: Path) -> Any | None:
        try:
            return json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # not written by us (renames are atomic): ignore it and recompute

    def write_json(self, path: Path, value: Any) -> None:
        write_atomic(path, lambda f: f.write(json.dumps(value, indent=1, sort_keys=True).encode("utf-8")))

    def bytes_stored(self, paths: list[Path]) -> int:
        return sum(p.stat().st_size for p in paths if p.exists())


def write_atomic(path: Path, write: Callable[[Any], Any]) -> None:
    """Write a file through a temporary sibling and rename it into place once complete.

    A full disk or any other failure removes the temporary file and leaves ``path`` untouched.
    """
    _mkdir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise _cache_error(error, path) from error
        raise


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    write_atomic(path, lambda handle: np.savez(handle, **arrays))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cache_error(error, folder) from error


def _cache_error(error: OSError, path: Path) -> CacheError:
    advice = disk_advice(error, "--xares-cache-dir")
    return CacheError(f"cannot write the cache entry {path}: {error.strerror or error}; {advice}")


def disk_advice(error: OSError, option: str) -> str:
    """What to do about a failed write under the directory that ``option`` sets."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space or point {option} at a larger disk"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make it writable or point {option} elsewhere"
    return f"check the directory that {option} names"
