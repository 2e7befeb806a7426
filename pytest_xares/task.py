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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal, Union

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

    def __post_init__(self) -> None:
        if self.crop_seconds is not None and self.crop_seconds <= 0:
            raise ValueError(f"task {self.name}: crop_seconds must be positive")
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

    def target(self, metadata: Any) -> int:
        """The class index of a sample from its json metadata; raises ``LabelError``."""
        if not isinstance(metadata, dict):
            raise LabelError(f"the json is a {type(metadata).__name__}, not an object with {self.label!r}")
        if self.label not in metadata:
            raise LabelError(f"the json has no field {self.label!r} (fields: {sorted(metadata)})")
        value = metadata[self.label]
        if self.to_label is not None:
            value = self.to_label(value)
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


Task = ClipTask
