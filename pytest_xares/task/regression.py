"""A score per clip (speechocean762)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task


@dataclass(frozen=True, kw_only=True)
class RegressionTask(Task):
    """One linear output trained with mean squared error, scored by Pearson correlation with the
    MSE reported beside it."""

    metric: str = "pearson"

    kind: ClassVar[str] = "regression"
    head: ClassVar[str] = "pytest_xares.heads.regression"

    def target(self, metadata: Any) -> float:
        value = self.field(metadata)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LabelError(f"label {value!r} is not a finite number")
        return float(value)

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        return np.array([self.target(m) for m in metadata], dtype=np.float32)
