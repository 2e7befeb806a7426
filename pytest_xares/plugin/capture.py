"""Progress past pytest's output capture: written to the real stderr, between pytest's own lines."""

from __future__ import annotations

import os
import sys

import pytest

from pytest_xares.engine.progress import Progress


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
    """Progress past pytest's capture; a live bar only on a terminal without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return Progress(Uncaptured(config), worker is None and sys.stderr.isatty(), worker=worker)
