"""Progress on pytest's terminal, past its output capture, so that it shows without ``-s``.

- A single process writes through pytest's terminal reporter (``TerminalScreen``): every line on
  a line of its own, pytest's line of dots going on after it; on a terminal a stage's bar is drawn
  on the line below the dots, and the cursor goes back to the dots when the bar closes.
- An xdist worker cannot write to the terminal (its output would land inside the controller's line
  of dots), so it sends its lines and figures to the controller (``RelayScreen``) over a channel of
  its own that the controller opened to it (``pytest_configure_node``), and the controller writes
  them as plain lines, never bars, while no report of its own is being written.
- ``FollowRun``, on the controller or the single process, prints the plan before the first item
  and, once the first batches are timed, the time left of the whole run (``engine.plan``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_xares.engine.plan import Sizes, TimeLeft, plan_line
from pytest_xares.engine.progress import Progress, Screen, Stream, StreamScreen
from pytest_xares.plugin.ids import suite_id

if TYPE_CHECKING:
    from pytest_xares.plugin.session import XaresSession

#: The key in an xdist worker's ``workerinput`` of the channel its progress goes to.
CHANNEL = "xares_progress"
#: Seconds between a stage's plain lines: in a CI log or from xdist workers, and on a terminal
#: (where the lines are only the heartbeats of a slow encoder call: stages have bars there).
LOG_INTERVAL, TERMINAL_INTERVAL = 30.0, 10.0


class TerminalScreen:
    """Lines, and one bar at a time, on pytest's terminal between pytest's own output."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._bar_open = False
        self._below: str | None = None  # the last line written below pytest's while a bar is open
        self._dots: Path | None = None  # the file of the line of dots that a line of ours interrupted

    @property
    def reporter(self) -> Any:
        # Looked up when needed: the plugin is configured before pytest's terminal reporter is.
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @property
    def capture(self) -> Any:
        return self.config.pluginmanager.get_plugin("capturemanager")

    @property
    def watched(self) -> bool:
        """Whether a person watches: a terminal that can redraw a bar in place and move the cursor."""
        return self.reporter is not None and bool(self.reporter.isatty()) and os.environ.get("TERM") != "dumb"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        """The terminal writer, with pytest's capture suspended (the item's output stays captured)."""
        suspended = self.capture.global_and_fixture_disabled() if self.capture is not None else contextlib.nullcontext()
        with self.lock, suspended:
            # ``_tw`` is private, but the one writer pytest's own lines go through: its idea of the
            # current line is what keeps these lines apart from the dots.
            yield None if self.reporter is None else self.reporter._tw

    def line(self, text: str) -> None:
        with self._writing() as tw:
            if tw is None:
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
            elif self._bar_open:  # below the bar's line, which it draws again below this one
                self._raw(tw, f"\r\x1b[K{text}\n")
                self._below = text
            else:
                if tw.width_of_current_line:
                    tw.line()
                tw.write(text, flush=True)
                self._after_own_line(tw)

    def bar_stream(self) -> Stream:
        return _BarStream(self)

    def bar_write(self, text: str) -> None:
        with self._writing() as tw:
            if tw is None:
                sys.stderr.write(text)
                return
            if not self._bar_open:  # the bar goes on a line of its own below pytest's, left as it is
                self._bar_open, self._below = True, None
                self._raw(tw, "\n")
            self._raw(tw, text)

    def bar_closed(self) -> None:
        """Back to the end of pytest's line (or of the last line written below it, which pytest
        then ends before its next output), where pytest's next dot belongs."""
        with self._writing() as tw:
            if tw is None or not self._bar_open:
                return
            self._bar_open = False
            width = tw.width_of_current_line if self._below is None else min(len(self._below), tw.fullwidth - 1)
            self._raw(tw, "\r\x1b[K\x1b[A" + (f"\x1b[{width}C" if width else ""))
            if self._below is not None:
                self._after_own_line(tw)

    def _after_own_line(self, tw: Any) -> None:
        """With the cursor at the end of a line of ours, leave it so that pytest's next output starts
        on a line of its own, with no blank line between."""
        reporter = self.reporter
        # xdist's dots follow without a newline, and so do pytest's own under -q (no file name first)
        if self.config.pluginmanager.has_plugin("dsession") or reporter.verbosity < 0:
            tw.line()
            reporter.currentfspath = None
            return
        # Left open, as pytest leaves its own lines: it ends it before a new line of dots, and in
        # verbose mode before anything (-2 is its mark of an open line); an item's outcome letter,
        # which pytest writes straight after the dots, comes after ``before_outcome``.
        if isinstance(reporter.currentfspath, Path):
            self._dots = reporter.currentfspath
        reporter.currentfspath = -2 if reporter.verbosity > 0 else None

    def before_outcome(self) -> None:
        """pytest is about to write an item's outcome: after a line of ours in the middle of a line of
        dots, that line goes on below ours, its file's name first as pytest writes it."""
        with self._writing() as tw:
            reporter = self.reporter
            if tw is None or self._dots is None or reporter.currentfspath is not None:
                return
            tw.line()
            tw.write(f"{os.path.relpath(self._dots, reporter.startpath)} ")
            reporter.currentfspath, self._dots = self._dots, None

    def event(self, kind: str, **fields: Any) -> None:
        pass

    @staticmethod
    def _raw(tw: Any, text: str) -> None:
        """Written past the writer's count of the current line: the bar and the cursor's moves
        leave pytest's line where pytest thinks it is."""
        file = getattr(tw, "_file", sys.stdout)
        file.write(text)
        file.flush()


class _BarStream:
    """What tqdm draws a bar on."""

    def __init__(self, screen: TerminalScreen) -> None:
        self.screen = screen
        self.encoding = getattr(sys.stdout, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        self.screen.bar_write(text)
        return len(text)

    def flush(self) -> None:
        pass


class RelayScreen:
    """An xdist worker's screen: lines and figures sent to the controller, which shows them."""

    def __init__(self, channel: Any, fallback: Screen) -> None:
        self.channel = channel
        self.fallback = fallback

    def line(self, text: str) -> None:
        self._send(("line", text), lambda: self.fallback.line(text))

    def bar_stream(self) -> Stream:
        return self.fallback.bar_stream()

    def bar_closed(self) -> None:
        pass

    def event(self, kind: str, **fields: Any) -> None:
        self._send(("event", kind, fields), lambda: None)

    def _send(self, message: tuple[Any, ...], otherwise: Any) -> None:
        try:
            self.channel.send(message)
        except Exception:  # the controller went away (a crash, an interrupt): say it here instead
            otherwise()


class Uncaptured:
    """A text stream that writes to the real stderr, suspending pytest's capture for each write."""

    def __init__(self, config: pytest.Config) -> None:
        self.capture = config.pluginmanager.getplugin("capturemanager")

    def write(self, text: str) -> int:
        if self.capture is None:
            return sys.stderr.write(text)
        with self.capture.global_and_fixture_disabled():
            written = sys.stderr.write(text)
            sys.stderr.flush()
        return written

    def flush(self) -> None:
        pass


def progress_for(config: pytest.Config) -> Progress:
    """This process's progress: relayed to the controller from an xdist worker; else on the terminal
    through the run's ``FollowRun``, with bars where a person watches."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        fallback = StreamScreen(Uncaptured(config))
        channel = workerinput.get(CHANNEL)
        screen: Screen = fallback if channel is None else RelayScreen(channel, fallback)
        return Progress(screen, False, worker=worker, interval=LOG_INTERVAL)
    follow: FollowRun | None = config.pluginmanager.get_plugin(FOLLOW)
    if follow is None:  # the plugin's session without its display (a test's own config)
        return Progress(Uncaptured(config), False, worker=worker, interval=LOG_INTERVAL)
    live = follow.terminal.watched
    return Progress(follow, live, interval=TERMINAL_INTERVAL if live else LOG_INTERVAL)


FOLLOW = "xares-follow"


class FollowRun:
    """Registered on the xdist controller or the single process: shows the plan, every process's
    progress and the time left."""

    def __init__(self, config: pytest.Config, session: XaresSession) -> None:
        self.config = config
        self.session = session
        self.terminal = TerminalScreen(config)
        self.time_left: TimeLeft | None = None
        self._ids: list[str] | None = None  # the items collected, until the plan is shown

    # The plan ----------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.config.pluginmanager.has_plugin("dsession"):  # on the xdist controller: the workers'
            self._ids = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self._ids is None:  # every worker collects the same items
            self._ids = list(ids)

    def _plan(self) -> None:
        """The plan, once the first item starts (after pytest's and xdist's collection lines)."""
        ids, self._ids = self._ids, []
        if not ids or self.session.settings.encoder is None:
            return
        selected: dict[str, int] = {}
        checks = 0
        for nodeid in ids:
            parts = suite_id(nodeid)
            if parts is not None:
                if parts[1] == "encoder":
                    checks += 1
                else:
                    selected[parts[1]] = selected.get(parts[1], 0) + 1
        tasks = [t for t in self.session.tasks if t.name in selected]
        if not tasks:
            return
        store = Sizes(self.session.settings.cache_dir, self.session.settings.data_dir)
        sizes = {t.name: store.known(t) for t in tasks}
        complete = {t.name for t in tasks if len(sizes[t.name]) == len(t.splits.patterns())}
        planned = {name: sum(s.audio_seconds for s in sizes[name].values()) for name in complete}
        encoders = len(self.session.runs)
        if encoders == 1:  # the engine's progress names tasks, not encoders: several would be counted as one
            self.time_left = TimeLeft(planned, unknown={t.name for t in tasks} - complete)
        self.terminal.line(plan_line(tasks, sum(selected.values()), checks, sizes, encoders))

    # Every process's progress ------------------------------------------------------------------

    def line(self, text: str) -> None:
        self.terminal.line(text)

    def bar_stream(self) -> Stream:
        return self.terminal.bar_stream()

    def bar_closed(self) -> None:
        self.terminal.bar_closed()

    def event(self, kind: str, **fields: Any) -> None:
        if self.time_left is None:
            return
        now = time.monotonic()
        if kind == "encoded":
            self.time_left.encoded(fields.get("task"), str(fields.get("what")), float(fields.get("audio_s", 0.0)), now)
        elif kind == "done":
            self.time_left.done(str(fields.get("task")))
        due = self.time_left.due(now)
        if due is not None:
            self.terminal.line(due)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Open the channel a worker's progress comes back on; its callback runs in execnet's
        receiving thread, and writes only while the controller writes none of its own reports."""
        channel = node.gateway.newchannel()
        channel.setcallback(self._received, endmarker=None)
        node.workerinput[CHANNEL] = channel

    def _received(self, message: Any) -> None:
        if not isinstance(message, tuple) or not message:
            return  # the channel's end
        if message[0] == "line":
            self.terminal.line(str(message[1]))
        elif message[0] == "event":
            self.event(str(message[1]), **message[2])

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        with self.terminal.lock:
            self.terminal.before_outcome()
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> Generator[None, None, None]:
        with self.terminal.lock:
            if self._ids:
                self._plan()
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> Generator[None, None, None]:
        with self.terminal.lock:
            return (yield)
