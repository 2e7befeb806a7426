"""Clips with any number of classes each (FSD50k)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task, Vocabulary


@dataclass(frozen=True, kw_only=True)
class MultiLabelTask(Vocabulary, Task):
    """The label field holds the class names joined by ``separator``; the head is trained with
    binary cross-entropy and scored by macro mAP."""

    classes: Sequence[Any] | int
    separator: str = ";"
    metric: str = "mAP"

    kind: ClassVar[str] = "multilabel"
    head: ClassVar[str] = "pytest_xares.heads.multilabel"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocabulary()

    def target(self, metadata: Any) -> np.ndarray:
        value = self.field(metadata)
        if not isinstance(value, str):
            raise LabelError(f"label {value!r} is not a {self.separator!r}-separated string of class names")
        hot = np.zeros(self.num_classes, dtype=np.float32)
        for name in filter(None, (part.strip() for part in value.split(self.separator))):
            hot[self.class_index(name)] = 1.0
        return hot

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        return np.stack([self.target(m) for m in metadata]) if metadata else np.zeros((0, self.num_classes), np.float32)
