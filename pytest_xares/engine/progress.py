"""Progress of long work (downloads, encoding, training), shown past pytest's output capture without drowning it.

Each stage (a record's download, a split's encoding, a head's training) is shown with its total
and the time left where the total is known. Where someone watches a terminal or a notebook, a tqdm
bar updates in place; elsewhere (xdist workers, CI logs) a plain line is written every ``interval``
seconds of the same work, prefixed with the worker's id. What shows it is a ``Screen``: the plugin's
puts each line between pytest's own and relays a worker's to the xdist controller
(``plugin.capture``); any text stream (the Python API's stderr) is one through ``StreamScreen``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tqdm import tqdm

from pytest_xares.data.transfer import duration
from pytest_xares.embeddings.encode import EncodeStats

if TYPE_CHECKING:
    from pytest_xares.data.transfer import TransferStats
    from pytest_xares.task import Task


class Stream(Protocol):
    """A text stream, or anything that writes and flushes text as one does."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


@runtime_checkable
class Screen(Protocol):
    """Where progress shows: whole lines, a bar redrawn in place (where ``Progress`` is live),
    and the figures behind them for whoever estimates the run's time left."""

    def line(self, text: str) -> None: ...

    def bar_stream(self) -> Stream:
        """Where a bar draws itself, from its opening until ``bar_closed``."""
        ...

    def bar_closed(self) -> None: ...

    def event(self, kind: str, **fields: Any) -> None:
        """``encoded`` (``task``, ``what``, ``audio_s`` so far) and ``done`` (``task``)."""
        ...


class StreamScreen:
    """A text stream as a screen: lines and bars are written to it; events go nowhere."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def bar_stream(self) -> Stream:
        return self.stream

    def bar_closed(self) -> None:
        pass

    def event(self, kind: str, **fields: Any) -> None:
        pass


def split_name(task: str, pattern: str) -> str:
    """How ``engine.evaluate`` names the encoding of one split: the task and the split's shard glob."""
    return f"{task} {pattern}"


class Progress:
    """Progress: a bar per stage where someone watches, else periodic lines."""

    def __init__(
        self,
        screen: Screen | Stream,
        live: bool,
        bar: Any = tqdm,
        worker: str | None = None,
        interval: float = 10.0,
    ) -> None:
        self.screen = screen if isinstance(screen, Screen) else StreamScreen(screen)
        self.live = live
        self.bar_class = bar
        self.worker = worker
        self.interval = interval
        self._bar: Any = None
        self._current: str | None = None
        self._started = 0.0
        self._last_line = 0.0
        self._last_event = 0.0
        self._task: str | None = None
        self._folds = 1
        self._clips: dict[str, int] = {}
        self._fold = 0
        self._last_epoch = 0

    @classmethod
    def for_python(cls, enabled: bool = True) -> Progress:
        """For scripts and notebooks: tqdm.auto draws a widget in a notebook, a bar in a terminal."""
        from tqdm.auto import tqdm as auto_bar

        watched = sys.stderr.isatty() or "ipykernel" in sys.modules
        return cls(sys.stderr, enabled and watched, bar=auto_bar, interval=10.0 if enabled else float("inf"))

    # What the work is ----------------------------------------------------------------------------

    def start_task(self, task: Task, clips: Mapping[str, int]) -> None:
        """The work that follows is ``task``'s: ``clips`` are the clips of its splits (by shard glob)
        where they are known, the totals of their encoding; its head trains once per fold."""
        self._task = task.name
        folds = getattr(task.splits, "folds", None)
        self._folds = len(folds) if folds is not None else 1
        self._clips = {split_name(task.name, pattern): count for pattern, count in clips.items()}

    def task_done(self, task: str) -> None:
        """``task``'s item finished: nothing of it is left to encode."""
        self.screen.event("done", task=task)
        self._task, self._folds, self._clips = None, 1, {}

    # What the stages report ----------------------------------------------------------------------

    def encoding(self, what: str) -> Callable[[EncodeStats], None]:
        """Where the encoding of ``what`` reports its stats."""
        return lambda stats: self.encoded(what, stats)

    def epochs(self, what: str, total: int) -> Callable[[int, float], None]:
        """Where the training of ``what`` reports each epoch done and its validation score."""
        return lambda epoch, valid: self.training(what, epoch, total, valid)

    def encoded(self, what: str, stats: EncodeStats) -> None:
        """Report ``stats`` of the encoding of ``what``."""
        total = self._clips.get(what)
        if self._advance(what, stats.clips, total, desc=f"xares: encoding {what}", unit=" clips"):
            rate = stats.audio_seconds / max(stats.forward_seconds, 1e-9)
            done = f"{stats.clips} of {total} clips" if total else f"{stats.clips} clips"
            self._line(
                f"xares: encoding {what}: {done}, {stats.audio_seconds:.0f} s of audio "
                f"({rate:.0f}x real time in the encoder){self._left(stats.clips, total)}"
            )
        now = time.monotonic()
        if now - self._last_event >= 1.0:  # the estimate of the run needs no more; a worker sends each
            self._last_event = now
            self.screen.event("encoded", task=self._task, what=what, audio_s=stats.audio_seconds)

    def training(self, what: str, epoch: int, epochs: int, valid: float) -> None:
        """Report the epochs done of the head trained for ``what``, and the last validation score.
        A k-fold task trains once per fold: its epochs count up again, and the total covers them all."""
        if self._current == what and epoch <= self._last_epoch:
            self._fold += 1
        elif self._current != what:
            self._fold = 0
        self._last_epoch = epoch
        folds = self._folds if self._task is not None and what.startswith(f"{self._task} ") else 1
        done, total = self._fold * epochs + epoch, epochs * max(folds, self._fold + 1)
        if self._advance(what, done, total, desc=f"xares: training {what}", unit=" epochs"):
            fold = f" (fold {self._fold + 1} of {folds})" if folds > 1 else ""
            self._line(
                f"xares: training {what}: epoch {epoch} of {epochs}{fold}, validation {valid:.4f}"
                f"{self._left(done, total)}"
            )
        elif self._bar is not None:
            self._bar.set_postfix(valid=f"{valid:.4f}", refresh=False)

    def transfer(self, what: str, stats: TransferStats) -> None:
        """Report bytes moved (a record's download, a folder's verification): amount, rate, time left."""
        if self._advance(what, stats.done, stats.total, desc=f"xares: {what}", unit="B", unit_scale=True):
            self._line(f"xares: {what}: {stats}")

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Say every ``interval`` seconds that ``what`` is still running (a slow encoder's batch, an
        encoder check): work that reports no progress of its own shows it is alive."""
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

    def close(self) -> None:
        """End the stage shown: its bar goes, and the screen returns to what it showed before."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self.screen.bar_closed()
        self._current = None

    # How ---------------------------------------------------------------------------------------

    def _advance(self, what: str, count: int, total: int | None, **bar: Any) -> bool:
        """Move the stage ``what`` to ``count`` of ``total``; True when a periodic line is due instead."""
        if self._current != what:
            self.close()
            self._current = what
            self._started = self._last_line = time.monotonic()  # quiet for short work: a first line after `interval`
            if self.live:
                self._bar = self.bar_class(file=self.screen.bar_stream(), leave=False, total=total or None, **bar)
        if self._bar is not None:
            self._bar.update(count - self._bar.n)
            return False
        now = time.monotonic()
        if now - self._last_line < self.interval:
            return False
        self._last_line = now
        return True

    def _left(self, count: int, total: int | None) -> str:
        """``", 3 min 05 s left"`` from the stage's pace so far; nothing for less than a second."""
        if not total or not count or count >= total:
            return ""
        left = (time.monotonic() - self._started) / count * (total - count)
        return f", {duration(left)} left" if left >= 1 else ""

    def _line(self, text: str) -> None:
        prefix = f"[{self.worker}] " if self.worker else ""
        self.screen.line(f"{prefix}{text}")
