"""Progress of long work (encoding), shown past pytest's output capture without drowning it.

On a terminal without xdist a tqdm bar updates in place; elsewhere (xdist workers, CI logs) a
line is printed every ``interval`` seconds of the same work, prefixed with the worker's id.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

import pytest
from tqdm import tqdm

from pytest_xares.encode import EncodeStats


class _Uncaptured:
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


class Progress:
    def __init__(self, config: pytest.Config, interval: float = 10.0) -> None:
        self.stream: TextIO = _Uncaptured(config)  # type: ignore[assignment]
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.live = self.worker is None and sys.stderr.isatty()
        self.interval = interval
        self._bar: Any = None
        self._current: str | None = None
        self._last_line = 0.0

    def __call__(self, what: str, stats: EncodeStats) -> None:
        """Report ``stats`` of the encoding of ``what``."""
        if self._current != what:
            self.close()
            self._current = what
            self._last_line = time.monotonic()  # quiet for short work: the first line after `interval`
            if self.live:
                self._bar = tqdm(desc=f"xares: encoding {what}", unit="clip", file=self.stream, leave=False)
        if self._bar is not None:
            self._bar.update(stats.clips - self._bar.n)
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval:
            self._last_line = now
            prefix = f"[{self.worker}] " if self.worker else ""
            rate = stats.audio_seconds / max(stats.forward_seconds, 1e-9)
            self.stream.write(
                f"{prefix}xares: encoding {what}: {stats.clips} clips, {stats.audio_seconds:.0f} s of audio "
                f"({rate:.0f}x real time in the encoder)\n"
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._current = None
