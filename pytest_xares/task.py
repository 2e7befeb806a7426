"""The data model of a task: where its shards are, how a label becomes a target, how it is scored.

A task definition is a plain, declarative object; the engine never special-cases a task by name::

    from pytest_xares.task import ClipTask, folds

    TASK = ClipTask(
        name="esc50",
        formal_name="ESC-50",
        record=14614287,
        splits=folds(range(1, 6)),
        label="label",
        classes=50,
        weight=400,
    )
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Literal, Union

import numpy as np

Method = Literal["mlp", "knn"]

#: Bumped whenever a change to the engine changes a score; it is part of every cache key.
PROTOCOL_VERSION = "2"


class Unavailable(RuntimeError):
    """Something a task needs besides its data (a language model, a tokenizer, an optional
    package) cannot be had here; its items are skipped with this message, which says what to do."""


class LabelError(ValueError):
    """A sample's label cannot be turned into a target (missing field, value outside the vocabulary)."""


@dataclass(frozen=True)
class TrainValidTest:
    """Three named splits; each a shard glob inside the task's data folder (the same glob may repeat)."""

    train: str
    valid: str
    test: str

    def patterns(self) -> tuple[str, ...]:
        """The distinct shard globs, in first-use order: each is read and encoded once."""
        return tuple(dict.fromkeys((self.train, self.valid, self.test)))


@dataclass(frozen=True)
class KFold:
    """k folds, one shard glob each: every fold is held out once for validation and test."""

    folds: tuple[str, ...]

    def patterns(self) -> tuple[str, ...]:
        return self.folds


Splits = Union[TrainValidTest, KFold]


def splits(train: str, valid: str, test: str) -> TrainValidTest:
    """Splits named by shard prefix: ``splits("fsd18_train", "fsd18_test", "fsd18_test")``
    reads ``fsd18_train*.tar`` and ``fsd18_test*.tar``. A name containing ``*`` or ending in
    ``.tar`` is taken as the glob itself."""
    return TrainValidTest(_glob(train), _glob(valid), _glob(test))


def folds(numbers: Iterable[int], pattern: str = "wds-audio-fold-{k}-*.tar") -> KFold:
    """k-fold splits: ``folds(range(10), "gtzan_fold_{k}_0000000.tar")``."""
    return KFold(tuple(pattern.format(k=k) for k in numbers))


def _glob(name: str) -> str:
    return name if "*" in name or name.endswith(".tar") else f"{name}*.tar"


@cache
def vocabulary(task_name: str) -> tuple[Any, ...]:
    """The class labels of a task of the X-ARES suite, in class-index order."""
    text = resources.files("pytest_xares.resources").joinpath("label_maps.json").read_text("utf-8")
    return tuple(json.loads(text)[task_name])


@dataclass(frozen=True)
class ClipTask:
    """A single-label classification task on whole clips (or on fixed-length crops of them).

    ``classes`` is either the vocabulary (a label value's position is its class index) or the
    number of classes when the label field already holds the index. ``to_label`` maps the raw
    json value first, for fields that need it (``"M"`` → 0, else 1).
    """

    name: str
    formal_name: str
    splits: Splits
    label: str
    classes: Sequence[Any] | int
    weight: float
    record: int | None = None
    private: bool = False
    to_label: Callable[[Any], Any] | None = None
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    crop_seconds: float | None = None
    knn: bool = True
    metric: str = "accuracy"
    #: Where the shards come from when they are absent: a Zenodo record (``record``) by default;
    #: the demo suite synthesises them instead. Called as ``source(task, folder)``.
    source: Callable[["ClipTask", Any], None] | None = field(default=None, compare=False)
    #: Folder below the data directory; the task's name unless two tasks share one record.
    folder: str | None = None
    suite: str = "xares"
    #: Whether the task counts in the weighted averages (speechocean762 does not: X-ARES never had it).
    averaged: bool = True

    #: What the trained head is (``pytest_xares.heads`` has one per kind).
    kind: ClassVar[str] = "clip"
    #: Whether the head needs every frame's embedding (stored float16), not the mean over frames.
    needs_frames: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.crop_seconds is not None and self.crop_seconds <= 0:
            raise ValueError(f"task {self.name}: crop_seconds must be positive")
        if self.needs_frames and not isinstance(self.splits, TrainValidTest):
            raise ValueError(f"task {self.name}: a {self.kind} task needs train, valid and test splits, not folds")
        if not isinstance(self.classes, int):
            object.__setattr__(self, "classes", tuple(self.classes))
            if len(set(map(_hashable, self.classes))) != len(self.classes):
                raise ValueError(f"task {self.name}: the class vocabulary has duplicates")

    @property
    def num_classes(self) -> int:
        return self.classes if isinstance(self.classes, int) else len(self.classes)

    @property
    def methods(self) -> tuple[Method, ...]:
        return ("mlp", "knn") if self.knn else ("mlp",)

    @property
    def data_folder(self) -> str:
        return self.folder or self.name

    def target(self, metadata: Any) -> Any:
        """The class index of a sample from its json metadata; raises ``LabelError``."""
        return self.class_index(self.field(metadata))

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        """The targets of a split's samples, stacked."""
        return np.array([self.target(m) for m in metadata], dtype=np.int64)

    def field(self, metadata: Any) -> Any:
        """The raw value of the label field, mapped by ``to_label``."""
        if not isinstance(metadata, dict):
            raise LabelError(f"the json is a {type(metadata).__name__}, not an object with {self.label!r}")
        if self.label not in metadata:
            raise LabelError(f"the json has no field {self.label!r} (fields: {sorted(metadata)})")
        value = metadata[self.label]
        return value if self.to_label is None else self.to_label(value)

    def class_index(self, value: Any) -> int:
        """The index of a label value in the vocabulary (or the value itself, checked, when the
        task has a number of classes); raises ``LabelError``."""
        if isinstance(self.classes, int):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.classes:
                raise LabelError(f"label {value!r} is not a class index in 0..{self.classes - 1}")
            return value
        index = _index(self.classes).get(_hashable(value))
        if index is None:
            raise LabelError(f"label {value!r} is not in the vocabulary of {self.name} ({_preview(self.classes)})")
        return index


@cache
def _index(classes: tuple[Any, ...]) -> dict[Any, int]:
    return {_hashable(c): i for i, c in enumerate(classes)}


def _hashable(value: Any) -> Any:
    # 1 and True, 1 and 1.0 are equal in Python: keep the type so a bool never passes for an index.
    return (type(value).__name__, value)


def _preview(classes: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in classes[:limit])
    return f"{shown}, … {len(classes)} in all" if len(classes) > limit else shown


@dataclass(frozen=True, kw_only=True)
class MultiLabelTask(ClipTask):
    """Clips with any number of classes each: the label field holds the class names joined by
    ``separator``; the head is trained with binary cross-entropy and scored by macro mAP."""

    separator: str = ";"
    knn: bool = False
    metric: str = "mAP"
    kind: ClassVar[str] = "multilabel"

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


@dataclass(frozen=True, kw_only=True)
class RegressionTask(ClipTask):
    """A score per clip: one linear output trained with mean squared error, scored by Pearson
    correlation with the MSE reported beside it."""

    classes: Sequence[Any] | int = 1
    knn: bool = False
    metric: str = "pearson"
    kind: ClassVar[str] = "regression"

    def target(self, metadata: Any) -> float:
        value = self.field(metadata)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise LabelError(f"label {value!r} is not a finite number")
        return float(value)

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        return np.array([self.target(m) for m in metadata], dtype=np.float32)


#: An event of a frame-level task: onset and offset in seconds, and the class indices it carries.
Event = tuple[float, float, tuple[int, ...]]


@dataclass(frozen=True, kw_only=True)
class FrameTask(ClipTask):
    """Events in time: the json is a list of events, each with an onset, an offset and a label
    (several class names joined by ``separator``, or a value ``to_label`` maps to a class).

    Targets are a ``[frames, classes]`` 0/1 matrix at the encoder's hop; a frame is active for an
    event that overlaps it. The head is LayerNorm + Linear on every frame, trained with binary
    cross-entropy (``pos_weight`` weighs the positive class), scored by segment F1 (``average``
    over classes) on ``segment_seconds`` segments."""

    label: str = "label"
    onset: str = "onset"
    offset: str = "offset"
    separator: str | None = ","
    segment_seconds: float = 1.0
    average: Literal["macro", "micro"] = "macro"
    pos_weight: float | None = None
    knn: bool = False
    metric: str = "segment F1"
    kind: ClassVar[str] = "frame"
    needs_frames: ClassVar[bool] = True

    def target(self, metadata: Any) -> list[Event]:
        """The sample's events; raises ``LabelError``."""
        if not isinstance(metadata, list):
            raise LabelError(f"the json is a {type(metadata).__name__}, not a list of events")
        return [self._event(e) for e in metadata]

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        raise TypeError("frame targets depend on the number of frames: use frame_targets")

    def _event(self, event: Any) -> Event:
        if not isinstance(event, dict) or not all(k in event for k in (self.onset, self.offset, self.label)):
            raise LabelError(f"event {event!r} lacks one of {self.onset!r}, {self.offset!r}, {self.label!r}")
        onset, offset = event[self.onset], event[self.offset]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in (onset, offset)):
            raise LabelError(f"event {event!r} has a non-numeric onset or offset")
        if offset < onset:
            raise LabelError(f"event {event!r} ends before it starts")
        value = event[self.label]
        if self.to_label is not None:
            value = self.to_label(value)
        names = [p.strip() for p in value.split(self.separator)] if self.separator and isinstance(value, str) else [value]
        return float(onset), float(offset), tuple(self.class_index(n) for n in names if n != "")

    def spans(self, metadata: Any, hop_seconds: float) -> np.ndarray:
        """The sample's events in frames: rows of (first frame, end frame exclusive, class).

        Frame ``k`` covers ``[k·hop, (k+1)·hop)`` and is active for every class of an event that
        overlaps it; an event of no duration marks the frame it falls in."""
        rows = []
        for onset, offset, classes in self.target(metadata):
            first = int(math.floor(onset / hop_seconds + 1e-9))
            end = max(int(math.ceil(offset / hop_seconds - 1e-9)), first + 1)
            rows += [(first, end, c) for c in classes]
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def frame_targets(self, metadata: Any, frames: int, hop_seconds: float) -> np.ndarray:
        """``[frames, classes]`` 0/1 float32 targets of a sample with ``frames`` embedding frames."""
        return frames_from_spans(self.spans(metadata, hop_seconds), frames, self.num_classes)


def frames_from_spans(spans: np.ndarray, frames: int, classes: int) -> np.ndarray:
    """The ``[frames, classes]`` 0/1 float32 matrix of event spans (see ``FrameTask.spans``);
    spans past the last frame are cut there."""
    edges = np.zeros((frames + 1, classes), dtype=np.int32)
    if len(spans):
        first, end = np.clip(spans[:, 0], 0, frames), np.clip(spans[:, 1], 0, frames)
        np.add.at(edges, (first, spans[:, 2]), 1)
        np.add.at(edges, (end, spans[:, 2]), -1)
    return (np.cumsum(edges[:-1], axis=0) > 0).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class RetrievalTask(ClipTask):
    """Audio–text retrieval: every clip has several captions (by default every value of its json,
    in order; ``captions`` names the fields instead). Audio and text towers are trained with a
    symmetric contrastive loss and scored by recall@1 averaged over both directions."""

    label: str = "captions"
    classes: Sequence[Any] | int = 0
    captions: tuple[str, ...] | None = None
    #: Builds the tokenizer (``pytest_xares.text``): called once per evaluation.
    tokenizer: Callable[[], Any] = field(default=None, compare=False)  # type: ignore[assignment]
    width: int = 1024
    knn: bool = False
    metric: str = "recall@1"
    kind: ClassVar[str] = "retrieval"

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

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        raise TypeError("a retrieval task's targets are captions: use target")


@dataclass(frozen=True, kw_only=True)
class AsrTask(ClipTask):
    """Speech recognition through a frozen causal language model (``lm``: a Hugging Face name or a
    local folder) and a trained adapter from encoder frames to its embeddings; scored by
    max(0, 1 − WER)."""

    classes: Sequence[Any] | int = 0
    lm: str = "Qwen/Qwen2.5-0.5B"
    max_new_tokens: int = 200
    knn: bool = False
    metric: str = "1 - WER"
    kind: ClassVar[str] = "asr"
    needs_frames: ClassVar[bool] = True

    def target(self, metadata: Any) -> str:
        value = self.field(metadata)
        if not isinstance(value, str):
            raise LabelError(f"transcript {value!r} is not a string")
        return value

    def targets(self, metadata: Sequence[Any]) -> np.ndarray:
        raise TypeError("an ASR task's targets are transcripts: use target")


Task = ClipTask
