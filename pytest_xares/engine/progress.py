"""Progress of long work (downloads, encoding, training), shown past pytest's output capture without drowning it.

On a terminal without xdist a tqdm bar updates in place; elsewhere (xdist workers, CI logs) a
line is printed every ``interval`` seconds of the same work, prefixed with the worker's id. The
stream is the plugin's (past pytest's capture, ``plugin.capture``) or the Python API's stderr.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from tqdm import tqdm

from pytest_xares.data.transfer import duration
from pytest_xares.embeddings.encode import EncodeStats

if TYPE_CHECKING:
    from pytest_xares.data.transfer import TransferStats


class Stream(Protocol):
    """Where progress is written: a text stream, or anything that writes and flushes text as one does."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Progress:
    """Progress: a bar where someone watches a terminal or notebook, else periodic lines."""

    def __init__(
        self, stream: Stream, live: bool, bar: Any = tqdm, worker: str | None = None, interval: float = 10.0
    ) -> None:
        self.stream = stream
        self.live = live
        self.bar_class = bar
        self.worker = worker
        self.interval = interval
        self._bar: Any = None
        self._current: str | None = None
        self._last_line = 0.0

    @classmethod
    def for_python(cls, enabled: bool = True) -> Progress:
        """For scripts and notebooks: tqdm.auto draws a widget in a notebook, a bar in a terminal."""
        from tqdm.auto import tqdm as auto_bar

        watched = sys.stderr.isatty() or "ipykernel" in sys.modules
        return cls(sys.stderr, enabled and watched, bar=auto_bar, interval=10.0 if enabled else float("inf"))

    def encoding(self, what: str) -> Callable[[EncodeStats], None]:
        """Where the encoding of ``what`` reports its stats."""
        return lambda stats: self.encoded(what, stats)

    def epochs(self, what: str, total: int) -> Callable[[int, float], None]:
        """Where the training of ``what`` reports each epoch done and its validation score."""
        return lambda epoch, valid: self.training(what, epoch, total, valid)

    def encoded(self, what: str, stats: EncodeStats) -> None:
        """Report ``stats`` of the encoding of ``what``."""
        if self._advance(what, stats.clips, desc=f"xares: encoding {what}", unit="clip"):
            rate = stats.audio_seconds / max(stats.forward_seconds, 1e-9)
            self._line(
                f"xares: encoding {what}: {stats.clips} clips, {stats.audio_seconds:.0f} s of audio "
                f"({rate:.0f}x real time in the encoder)"
            )

    def training(self, what: str, epoch: int, epochs: int, valid: float) -> None:
        """Report the epochs done of the head trained for ``what``, and the last validation score."""
        if self._advance(what, epoch, desc=f"xares: training {what}", unit="epoch", total=epochs):
            self._line(f"xares: training {what}: epoch {epoch} of {epochs}, validation {valid:.4f}")
        elif self._bar is not None:
            self._bar.set_postfix(valid=f"{valid:.4f}", refresh=False)

    def transfer(self, what: str, stats: TransferStats) -> None:
        """Report bytes moved (a record's download, a folder's verification): amount, rate, time left."""
        bar = {"desc": f"xares: {what}", "unit": "B", "unit_scale": True, "total": stats.total}
        if self._advance(what, stats.done, **bar):
            self._line(f"xares: {what}: {stats}")

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Say every ``interval`` seconds that ``what`` is still running (a slow encoder's batch):
        work that reports no progress of its own shows it is alive."""
        done = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not done.wait(self.interval):
                self.note(f"{what}: still running after {duration(time.monotonic() - started)}")

        thread = threading.Thread(target=beat, name="xares-heartbeat", daemon=True)
        if self.interval != float("inf"):
            thread.start()
        try:
            yield
        finally:
            done.set()
            if thread.is_alive():
                thread.join()

    def note(self, text: str) -> None:
        """Say something at once (a retry, a wait for another process), above a live bar."""
        if self._bar is not None:
            self._bar.clear()
        self._line(f"xares: {text}")
        if self._bar is not None:
            self._bar.refresh()

    def _advance(self, what: str, count: int, **bar: Any) -> bool:
        """Move the bar of ``what`` to ``count``; True when a periodic line is due instead."""
        if self._current != what:
            self.close()
            self._current = what
            self._last_line = time.monotonic()  # quiet for short work: the first line after `interval`
            if self.live:
                self._bar = self.bar_class(file=self.stream, leave=False, **bar)
        if self._bar is not None:
            self._bar.update(count - self._bar.n)
            return False
        now = time.monotonic()
        if now - self._last_line < self.interval:
            return False
        self._last_line = now
        return True

    def _line(self, text: str) -> None:
        prefix = f"[{self.worker}] " if self.worker else ""
        self.stream.write(f"{prefix}{text}\n")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._current = None
