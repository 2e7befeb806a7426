"""Audio–text retrieval (Clotho): several captions per clip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task


@dataclass(frozen=True, kw_only=True)
class RetrievalTask(Task):
    """Every clip has several captions (by default every value of its json, in order; ``captions``
    names the fields instead). Audio and text towers are trained with a symmetric contrastive loss
    and scored by recall@1 averaged over both directions."""

    label: str = "captions"
    captions: tuple[str, ...] | None = None
    #: Builds the tokenizer (``pytest_xares.task.text``): called once per evaluation.
    tokenizer: Callable[[], Any] = field(compare=False)
    width: int = 1024
    metric: str = "recall@1"

    kind: ClassVar[str] = "retrieval"
    head: ClassVar[str] = "pytest_xares.heads.retrieval"

    def target(self, metadata: Any) -> list[str]:
        if not isinstance(metadata, dict):
            raise LabelError(f"the json is a {type(metadata).__name__}, not an object of captions")
        if self.captions is not None:
            missing = [f for f in self.captions if f not in metadata]
            if missing:
                raise LabelError(f"the json has no field {missing[0]!r} (fields: {sorted(metadata)})")
            values = [metadata[f] for f in self.captions]
        else:
            values = list(metadata.values())
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise LabelError(f"the json's captions are not all non-empty strings: {metadata!r}")
        return values
