"""A result as test-report properties: the whole result for the controller and the results file,
and flat ones that junit-xml readers show (``--junitxml``), where every value that is not text is
written as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pytest_xares.results.scores import TaskResult

#: Names of the test-report properties that carry a result, and a baseline verdict, to the controller.
RESULT_PROPERTY = "xares"
BASELINE_PROPERTY = "xares_baseline"
#: What a download or verify item did (a ``DataOutcome`` as a dict).
DATA_PROPERTY = "xares_data"
#: An encoder check's verdict.
CHECK_PROPERTY = "xares_check"


def result_properties(result: TaskResult) -> list[tuple[str, Any]]:
    """The result whole (builtin types only: it travels from xdist workers), then flat figures."""
    return [
        (RESULT_PROPERTY, result.to_dict()),
        ("xares_score", round(result.score, 6)),
        ("xares_metric", result.metric),
        ("xares_ci95", f"{result.interval[0]:.4f}..{result.interval[1]:.4f}"),
        ("xares_seconds", result.seconds["total"]),
    ] + [(f"xares_{name}", round(value, 6)) for name, value in result.extra.items()]


def as_junit(properties: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The properties as junit-xml writes them (``str`` of each value): text as it is, anything else
    as JSON, so that a reader parses ``{"task": "esc50", "cached": true}`` rather than a Python repr.
    A result goes without its per-clip data (megabytes for FSD50k), which only the results file needs."""
    return [
        (name, value if isinstance(value, str) else json.dumps(_lean(name, value), sort_keys=True))
        for name, value in properties
    ]


def _lean(name: str, value: Any) -> Any:
    if name == RESULT_PROPERTY and isinstance(value, dict):
        return {key: item for key, item in value.items() if key != "per_clip"}
    return value
