"""A result as test-report properties: the whole result for the controller and the results file,
and flat ones that junit-xml readers show (``--junitxml``)."""

from __future__ import annotations

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
