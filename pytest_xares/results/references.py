"""The published X-ARES scores of the baseline encoders (MLP and kNN, by task)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The published encoder whose scores the report shows beside the run's.
REFERENCE_ENCODER = "dasheng"


@cache
def reference_scores() -> dict[str, Any]:
    """Published X-ARES scores of the baseline encoders (MLP and kNN, by task)."""
    text = resources.files("pytest_xares.resources").joinpath("reference_scores.json").read_text("utf-8")
    return json.loads(text)


def reference(task: str, method: str, encoder: str = REFERENCE_ENCODER) -> float | None:
    return reference_scores().get(method, {}).get(task, {}).get(encoder)
