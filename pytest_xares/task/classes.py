"""Single-label classification of whole clips (or of fixed-length crops of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pytest_xares.task.base import KNN, MLP, Method, Task, Vocabulary


@dataclass(frozen=True, kw_only=True)
class ClipTask(Vocabulary, Task):
    """One class per clip: trained with cross-entropy, scored by accuracy; kNN too unless
    ``knn=False``. The label field holds a vocabulary value, or the class index itself::

        TASK = ClipTask(name="esc50", formal_name="ESC-50", record=14614287,
                        splits=folds(range(1, 6)), label="label", classes=50, weight=400)
    """

    classes: Sequence[Any] | int
    knn: bool = True

    kind: ClassVar[str] = "clip"
    head: ClassVar[str] = "pytest_xares.heads.classes"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocabulary()

    @property
    def methods(self) -> tuple[Method, ...]:
        return (MLP, KNN) if self.knn else (MLP,)

    def target(self, metadata: Any) -> int:
        """The class index of a sample from its json metadata; raises ``LabelError``."""
        return self.class_index(self.field(metadata))

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        """The targets of a split's samples, stacked."""
        return np.array([self.target(m) for m in metadata], dtype=np.int64)
