"""Progress of a transfer of bytes (a record's download, a folder's verification) and who hears of it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TransferStats:
    done: int  # bytes so far
    total: int  # bytes in all
    seconds: float

    @property
    def rate(self) -> float:
        return self.done / max(self.seconds, 1e-9)

    @property
    def eta(self) -> float | None:
        return (self.total - self.done) / self.rate if self.done else None

    def __str__(self) -> str:
        left = "" if self.eta is None else f", {duration(self.eta)} left"
        percent = 100 * self.done / self.total if self.total else 100
        return (
            f"{human_bytes(self.done)} of {human_bytes(self.total)} ({percent:.0f} %), {human_bytes(self.rate)}/s{left}"
        )


class Listener(Protocol):
    """Where progress goes (``pytest_xares.progress.Progress`` is one)."""

    def transfer(self, what: str, stats: TransferStats) -> None: ...

    def note(self, text: str) -> None: ...


class Quiet:
    """A listener that hears nothing."""

    def transfer(self, what: str, stats: TransferStats) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class TransferMeter:
    """Bytes of one transfer (a record's download, a folder's verification) so far, reported to a
    listener as they arrive."""

    def __init__(self, listener: Listener, what: str, total: int) -> None:
        self.listener, self.what, self.total = listener, what, total
        self.done = 0
        self.started = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count
        self.listener.transfer(
            self.what, TransferStats(self.done, max(self.total, self.done), time.monotonic() - self.started)
        )


def human_bytes(count: float) -> str:
    """``1234567`` → ``"1.2 MB"`` (decimal units, as disks and Zenodo count)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"


def duration(seconds: float) -> str:
    """``75`` → ``"75 s"``, ``3600`` → ``"60 min 00 s"``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s" if seconds < 7200 else f"{seconds / 3600:.1f} h"
