"""What the cache holds, by encoder and task, and removing what no run has used for a while.

Entries are named by content keys, which say nothing of the encoder or protocol that made them,
so every run keeps a small record of use beside them: ``usage/<fingerprint>-p<protocol>/<group>.json``
(a group is a task, or ``checks``), sealed like an entry, holding the encoder's spec, the day it
was last used and the entries it used. A run reads its record once per task and rewrites it only
when it used an entry the record lacks or on its first use of a day: a warm run adds one small
read per task. Entries are never changed, so sealed entries stay sealed.

Entries no record names were written before records were kept (or by a version of another
layout), or belong to no encoder (the splits' sizes of ``engine.plan``); ``prune --before`` takes
them by their files' time. So does it the hidden temporary files of writers that died before
they renamed them into place (``files.write_atomic``: ``.<entry>.<random>.tmp``), listed as
``unfinished``: never read as entries, and left by a killed process (or node) alone.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_xares.cache.keys import PROTOCOL_VERSION
from pytest_xares.cache.store import Cache
from pytest_xares.data.transfer import human_bytes
from pytest_xares.errors import XaresError

USAGE = "usage"
#: The kinds of entries an encoder's use is recorded for (the others, such as the splits' sizes
#: that ``engine.plan`` keeps, belong to no encoder).
RECORDED = ("embeddings", "results", "checks")
#: Folders of the cache that hold no entries.
NOT_ENTRIES = (USAGE, ".locks")
#: What the hidden temporary files of entries being written, or whose writer died, are listed as.
UNFINISHED = "unfinished"
#: Seconds since its last write after which an unfinished file is taken for a dead writer's.
WRITER_GRACE = 3600


def today() -> str:
    return datetime.date.today().isoformat()


@dataclass
class Usage:
    """One encoder's use of one group's entries under one protocol version."""

    encoder: str  # the fingerprint
    protocol: str
    group: str
    spec: str
    last_used: str  # ISO date
    entries: set[str] = field(default_factory=set)  # paths relative to the cache root

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "entries": sorted(self.entries)}

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Usage:
        return cls(**{**entry, "entries": set(entry["entries"])})


def usage_path(cache: Cache, encoder: str, group: str, protocol: str = PROTOCOL_VERSION) -> Path:
    return cache.path(USAGE, f"{encoder}-p{protocol}", group, ".json")


class UsageRecorder:
    """Records, for one process, which entries an encoder used (``Cache.touched``), once per group
    and day unless new entries appear."""

    def __init__(self, cache: Cache, encoder: str, spec: str) -> None:
        self.cache = cache
        self.encoder = encoder
        self.spec = spec
        self.known: dict[str, set[str]] = {}

    def record(self, group: str) -> None:
        touched = {
            str(p.relative_to(self.cache.root))
            for p in self.cache.touched
            if p.parts[len(self.cache.root.parts)] in RECORDED and p.exists()
        }
        self.cache.touched.clear()
        if not self.encoder or (group in self.known and touched <= self.known[group]):
            return
        path = usage_path(self.cache, self.encoder, group)
        usage = self.cache.read_entry(path, Usage.of)
        if usage is None or usage.last_used != today() or not touched <= usage.entries:
            try:
                with self.cache.locked(path):  # workers using one group add to the record in turn
                    usage = self.cache.read_entry(path, Usage.of)
                    entries = (usage.entries if usage is not None else set()) | touched
                    usage = Usage(self.encoder, PROTOCOL_VERSION, group, self.spec, today(), entries)
                    self.cache.write_entry(path, usage.to_dict())
            except (OSError, XaresError):  # a read-only cache is used as it is, unrecorded
                return
        self.known[group] = usage.entries


# --- what the cache holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """The files of some entries: of one record of use, or of entries no record names."""

    usage: Usage | None  # None: entries no record names
    group: str
    files: tuple[Path, ...]
    newest: float  # the latest modification time among the files
    kind: str = ""  # of entries no record names: the folder they are in

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files if f.exists())


def _files_of(cache: Cache, entry: str) -> list[Path]:
    """An entry's files: ``<key>.npz`` and the ``<key>.f16`` beside it, say."""
    path = cache.root / entry
    return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())


def records(cache: Cache) -> list[Usage]:
    found = []
    for path in sorted((cache.root / USAGE).glob("*/*.json")):
        usage = cache.read_entry(path, Usage.of)
        if usage is not None:
            found.append(usage)
    return found


def holdings(cache: Cache) -> list[Holding]:
    """Every entry of the cache, by the record of use that names it, or by its group when none does."""
    result, named = [], set()
    for usage in records(cache):
        files = [f for entry in sorted(usage.entries) for f in _files_of(cache, entry)]
        named |= set(files)
        result.append(Holding(usage, usage.group, tuple(files), max((f.stat().st_mtime for f in files), default=0)))
    stray: dict[tuple[str, str], list[Path]] = {}
    kinds = sorted(p.name for p in cache.root.iterdir() if p.is_dir() and p.name not in NOT_ENTRIES)
    for kind in kinds:
        for path in sorted((cache.root / kind).glob("*/*")):
            group = path.parent.name if kind != "checks" else "checks"
            if not path.is_file() or path in named:
                continue
            if not path.name.startswith("."):
                stray.setdefault((kind, group), []).append(path)
            elif path.name.endswith(".tmp"):  # a writer's, alive or dead, each judged by its own time
                result.append(Holding(None, group, (path,), path.stat().st_mtime, UNFINISHED))
    for (kind, group), files in stray.items():
        result.append(Holding(None, group, tuple(files), max(f.stat().st_mtime for f in files), kind))
    return result


def summary(cache: Cache, found: Iterable[Holding] | None = None) -> list[list[str]]:
    """Rows of encoder, spec, protocol, last used, group, files and size, largest encoders first."""
    found = list(holdings(cache) if found is None else found)
    by_encoder: dict[str, int] = {}
    for h in found:
        by_encoder[h.usage.encoder if h.usage else ""] = by_encoder.get(h.usage.encoder if h.usage else "", 0) + h.size
    found.sort(key=lambda h: (-by_encoder[h.usage.encoder if h.usage else ""], h.usage is None, h.group))
    rows = []
    for h in found:
        u = h.usage
        rows.append([
            u.encoder[:12] if u else "(no record)" if h.kind in RECORDED else f"({h.kind})",
            _short(u.spec) if u else "–", u.protocol if u else "–",
            u.last_used if u else datetime.date.fromtimestamp(h.newest).isoformat() + " (file)",
            h.group, str(len(h.files)), human_bytes(h.size),
        ])  # fmt: skip
    return rows


def _short(text: str, width: int = 36) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


# --- pruning ------------------------------------------------------------------------------------


def select(
    found: Iterable[Holding], before: datetime.date | None, encoder: str | None, protocol: str | None
) -> list[Holding]:
    """The holdings to remove: recorded ones last used before ``before`` (when given), of an
    encoder whose fingerprint starts with ``encoder`` and of ``protocol`` (when given); entries no
    record names only by ``before`` alone, when their files are all older than it (unfinished
    files also not written to for ``WRITER_GRACE``)."""
    chosen = []
    for h in found:
        if h.usage is None:
            if h.kind == UNFINISHED and time.time() - h.newest < WRITER_GRACE:
                continue  # a writer may still be at work on it
            if before is not None and encoder is None and protocol is None:
                if datetime.date.fromtimestamp(h.newest) < before:
                    chosen.append(h)
            continue
        if before is not None and datetime.date.fromisoformat(h.usage.last_used) >= before:
            continue
        if encoder is not None and not h.usage.encoder.startswith(encoder):
            continue
        if protocol is not None and h.usage.protocol != protocol:
            continue
        chosen.append(h)
    return chosen


def remove(cache: Cache, chosen: Iterable[Holding]) -> int:
    """Delete the holdings' files (and their records, and the entries' locks); returns the bytes freed."""
    freed = 0
    for h in chosen:
        for path in h.files:
            try:
                freed += path.stat().st_size
                path.unlink()
            except FileNotFoundError:
                continue
            lock = cache.root / ".locks" / path.relative_to(cache.root).with_name(path.name + ".lock")
            lock.unlink(missing_ok=True)
        if h.usage is not None:
            usage_path(cache, h.usage.encoder, h.group, h.usage.protocol).unlink(missing_ok=True)
    return freed
