"""The hooks pytest-xares calls, for a conftest or plugin to implement."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_xares_results(config: pytest.Config, results: Any) -> str | None:
    """Write the run's results (a ``pytest_xares.results.scores.Results``) somewhere.

    Called once at the end of a run that produced results, on the xdist controller (or the single
    process), after every item. The built-in formats (``--xares-json``, ``--xares-markdown``,
    ``--xares-plot``, ``--xares-update-baseline``) are implementations of this hook too. Return a
    line for the terminal summary ("report written to …"), or ``None``::

        # conftest.py
        def pytest_xares_results(config, results):
            Path("scores.csv").write_text("".join(f"{r.task},{r.method},{r.score}\\n" for r in results.results))
            return "scores written to scores.csv"
    """
