"""The content-keyed store of embeddings, scores and encoder checks.

Every entry lives at a path derived from a key (``pytest_xares.cache.keys``) of everything that
determines it, so a changed encoder, task, data file, seed or engine never finds a stale entry.
Entries are written through ``pytest_xares.files.write_atomic``, so a killed run leaves either the
old state or the complete new entry, never half of one. Every entry is checked before it is used:
a JSON entry (a score, a check's verdict) carries the SHA-256 of its content, an ``.npz`` the
CRC-32 of each array, a frame file its SHA-256 in its index; an entry that fails the check, or that
does not have the layout its reader expects, is computed again. A lock per entry, kept apart under
``.locks/`` so that a listing of the cache shows entries only, makes concurrent workers and runs
compute it once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pytest_xares.files import locked, make_folder, write_atomic

T = TypeVar("T")


class Cache:
    """Files under one root: ``embeddings/<task>/<key>.npz`` (and ``.f16`` frames),
    ``results/<task>/<key>.json``, ``checks/<check>/<key>.json``; their locks under ``.locks/``;
    the records of which encoder used them under ``usage/`` (``cache.housekeeping``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        #: Every entry path handed out, for the record of use (``cache.housekeeping``).
        self.touched: set[Path] = set()

    def path(self, kind: str, group: str, key: str, suffix: str) -> Path:
        path = self.root / kind / group / f"{key}{suffix}"
        self.touched.add(path)
        return path

    @contextlib.contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold the lock of one entry; other processes wanting the same entry wait here."""
        lock = self.root / ".locks" / path.relative_to(self.root).with_name(path.name + ".lock")
        make_folder(lock.parent)
        with locked(lock, "--xares-cache-dir"):
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

    def read_entry(self, path: Path, parse: Callable[[Any], T]) -> T | None:
        """The JSON entry at ``path`` as ``parse`` reads it, or ``None`` when it is absent, damaged
        (its digest does not match: an edited digit, a torn copy) or of another layout (``parse``
        raises ``TypeError``, ``KeyError`` or ``ValueError``): the caller computes it again."""
        try:
            sealed = json.loads(path.read_text("utf-8"))
            content = json.dumps(sealed["entry"], sort_keys=True)
            if sealed["sha256"] != hashlib.sha256(content.encode("utf-8")).hexdigest():
                return None
            return parse(sealed["entry"])
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError, AttributeError):
            return None

    def write_entry(self, path: Path, value: Any) -> None:
        """Write a JSON entry, sealed with the SHA-256 of its content for ``read_entry``."""
        content = json.dumps(value, sort_keys=True)
        sealed = {"sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(), "entry": value}
        write_atomic(path, json.dumps(sealed, indent=1, sort_keys=True))

    def bytes_stored(self, paths: list[Path]) -> int:
        return sum(p.stat().st_size for p in paths if p.exists())


def save_arrays(path: Path, **arrays: np.ndarray) -> None:
    # allow_pickle is numpy's default, named so that no entry of ``arrays`` can stand for it.
    write_atomic(path, lambda handle: np.savez(handle, allow_pickle=True, **arrays))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}
