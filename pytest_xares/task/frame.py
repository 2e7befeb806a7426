"""Events in time (DESED, MAESTRO): targets per frame of the encoder's output."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task, Vocabulary

#: An event of a frame-level task: onset and offset in seconds, and the class indices it carries.
Event = tuple[float, float, tuple[int, ...]]


@dataclass(frozen=True, kw_only=True)
class FrameTask(Vocabulary, Task):
    """The json is a list of events, each with an onset, an offset and a label (several class
    names joined by ``separator``, or a value ``to_label`` maps to a class).

    Targets are a ``[frames, classes]`` 0/1 matrix at the encoder's hop; a frame is active for an
    event that holds its start (see ``spans``). The head is LayerNorm + Linear on every frame, trained with binary
    cross-entropy (``pos_weight`` weighs the positive class), scored by segment F1 (``average``
    over classes) on ``segment_seconds`` segments."""

    classes: Sequence[Any] | int
    onset: str = "onset"
    offset: str = "offset"
    separator: str | None = ","
    segment_seconds: float = 1.0
    average: Literal["macro", "micro"] = "macro"
    pos_weight: float | None = None
    metric: str = "segment F1"

    kind: ClassVar[str] = "frame"
    head: ClassVar[str] = "pytest_xares.heads.frame"
    folds_allowed: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocabulary()

    def target(self, metadata: Any) -> list[Event]:
        """The sample's events; raises ``LabelError``."""
        if not isinstance(metadata, list):
            raise LabelError(f"the json is a {type(metadata).__name__}, not a list of events")
        return [self._event(e) for e in metadata]

    def _event(self, event: Any) -> Event:
        if not isinstance(event, dict) or not all(k in event for k in (self.onset, self.offset, self.label)):
            raise LabelError(f"event {event!r} lacks one of {self.onset!r}, {self.offset!r}, {self.label!r}")
        onset, offset = event[self.onset], event[self.offset]
        if not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in (onset, offset)
        ):
            raise LabelError(f"event {event!r} has a non-numeric onset or offset")
        if offset < onset:
            raise LabelError(f"event {event!r} ends before it starts")
        value = event[self.label]
        if self.to_label is not None:
            value = self.to_label(value)
        names = (
            [p.strip() for p in value.split(self.separator)] if self.separator and isinstance(value, str) else [value]
        )
        return float(onset), float(offset), tuple(self.class_index(n) for n in names if n != "")

    def spans(self, metadata: Any, hop_seconds: float) -> np.ndarray:
        """The sample's events in frames: rows of (first frame, end frame exclusive, class).

        As in X-ARES, frame ``k`` stands for the instant ``k·hop`` and is active for an event when
        that instant lies in ``[onset, offset)``: an event runs from frame ``ceil(onset / hop)`` to
        ``ceil(offset / hop)``, and one too short to hold a frame's start marks none. (A ceiling of
        a quotient that misses an integer by a rounding error is taken as that integer, where
        X-ARES's ``ceil`` would step one frame further.)"""
        rows = []
        for onset, offset, classes in self.target(metadata):
            first, end = _frame_at(onset, hop_seconds), _frame_at(offset, hop_seconds)
            rows += [(first, end, c) for c in classes if end > first]
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def frame_targets(self, metadata: Any, frames: int, hop_seconds: float) -> np.ndarray:
        """``[frames, classes]`` 0/1 float32 targets of a sample with ``frames`` embedding frames."""
        return frames_from_spans(self.spans(metadata, hop_seconds), frames, self.num_classes)


def _frame_at(seconds: float, hop_seconds: float) -> int:
    """The first frame starting at or after ``seconds``."""
    return math.ceil(seconds / hop_seconds - 1e-9)


def frames_from_spans(spans: np.ndarray, frames: int, classes: int) -> np.ndarray:
    """The ``[frames, classes]`` 0/1 float32 matrix of event spans (see ``FrameTask.spans``);
    spans past the last frame are cut there."""
    edges = np.zeros((frames + 1, classes), dtype=np.int32)
    if len(spans):
        first, end = np.clip(spans[:, 0], 0, frames), np.clip(spans[:, 1], 0, frames)
        np.add.at(edges, (first, spans[:, 2]), 1)
        np.add.at(edges, (end, spans[:, 2]), -1)
    return (np.cumsum(edges[:-1], axis=0) > 0).astype(np.float32)
