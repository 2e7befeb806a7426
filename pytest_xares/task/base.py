"""What every task is: its name, its data (a Zenodo record, shard globs per split), how it trains
and how it counts in the averages. The kinds (``classes``, ``multilabel``, ``regression``,
``frame``, ``retrieval``, ``asr``) are siblings below ``Task``; each says how a sample's json
becomes a target and names the head that trains on it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Literal

from pytest_xares.errors import LabelError
from pytest_xares.hashing import digest

Method = Literal["mlp", "knn"]
#: The evaluation methods, in the order the report shows them: the trained head (X-ARES's MLP
#: column, whatever the head of the task's kind is) and kNN where a task has it.
MLP: Method = "mlp"
KNN: Method = "knn"
METHODS: tuple[Method, ...] = (MLP, KNN)


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


Splits = TrainValidTest | KFold


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


#: The metadata of the fields that describe a task without changing its scores.
_NOT_SCORED = {"scored": False}


@dataclass(frozen=True, kw_only=True)
class Task:
    """The fields every kind shares. ``label`` names the json field a target is read from, and
    ``to_label`` maps its raw value first, for fields that need it (``"M"`` → 0, else 1)."""

    name: str
    formal_name: str
    splits: Splits
    weight: float
    label: str = "label"
    to_label: Callable[[Any], Any] | None = None
    record: int | None = None
    private: bool = False
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    crop_seconds: float | None = None
    metric: str = "accuracy"
    #: Where the shards come from when they are absent: a Zenodo record (``record``) by default;
    #: the demo suite synthesises them instead. Called as ``source(task, folder)``.
    source: Callable[[Any, Any], None] | None = field(default=None, compare=False)
    #: Folder below the data directory; the task's name unless two tasks share one record.
    folder: str | None = None
    #: Whether the task counts in the weighted averages (speechocean762 does not: X-ARES never had it).
    averaged: bool = True
    #: What the task asks of an encoder, in one line; where the data comes from (a paper or the
    #: dataset's page, or the module that synthesises it); ``speech``, ``sound`` or ``music``.
    #: Shown by ``xares tasks``; they change no score, so they are not in the fingerprint.
    description: str = field(default="", metadata=_NOT_SCORED)
    reference: str = field(default="", metadata=_NOT_SCORED)
    domain: str = field(default="", metadata=_NOT_SCORED)

    #: The kind's name, as the report and ``task.kind`` checks show it.
    kind: ClassVar[str]
    #: The module of the head that trains on this kind (see ``pytest_xares.heads``).
    head: ClassVar[str]
    #: Whether the splits may be k folds (frame-level heads need train, valid and test).
    folds_allowed: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.crop_seconds is not None and self.crop_seconds <= 0:
            raise ValueError(f"task {self.name}: crop_seconds must be positive")
        if not self.folds_allowed and not isinstance(self.splits, TrainValidTest):
            raise ValueError(f"task {self.name}: a {self.kind} task needs train, valid and test splits, not folds")

    @property
    def methods(self) -> tuple[Method, ...]:
        """The evaluation methods of the task: its trained head, and kNN where the kind has it."""
        return (MLP,)

    @property
    def data_folder(self) -> str:
        return self.folder or self.name

    def target(self, metadata: Any) -> Any:
        """A sample's target from its json metadata; raises ``LabelError``."""
        raise NotImplementedError

    def field(self, metadata: Any) -> Any:
        """The raw value of the label field, mapped by ``to_label``."""
        if not isinstance(metadata, dict):
            raise LabelError(f"the json is a {type(metadata).__name__}, not an object with {self.label!r}")
        if self.label not in metadata:
            raise LabelError(f"the json has no field {self.label!r} (fields: {sorted(metadata)})")
        value = metadata[self.label]
        return value if self.to_label is None else self.to_label(value)

    def fingerprint(self) -> str:
        """A digest of every field that changes a score (functions by their source code)."""
        described = {}
        for f in (f for f in fields(self) if f.metadata.get("scored", True)):
            value = getattr(self, f.name)
            if callable(value):
                try:
                    value = inspect.getsource(value)
                except (OSError, TypeError):
                    value = getattr(value, "__qualname__", repr(value))
            described[f.name] = value
        return digest(described)


class Vocabulary:
    """For kinds whose targets are classes: ``classes`` is the vocabulary (a label value's position
    is its class index) or the number of classes when the label field already holds the index."""

    name: str
    classes: Sequence[Any] | int

    def _check_vocabulary(self) -> None:
        if not isinstance(self.classes, int):
            object.__setattr__(self, "classes", tuple(self.classes))
            if len(set(map(_hashable, self.classes))) != len(self.classes):
                raise ValueError(f"task {self.name}: the class vocabulary has duplicates")

    @property
    def num_classes(self) -> int:
        return self.classes if isinstance(self.classes, int) else len(self.classes)

    def class_index(self, value: Any) -> int:
        """The index of a label value in the vocabulary (or the value itself, checked, when the
        task has a number of classes); raises ``LabelError``."""
        if isinstance(self.classes, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
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
    # 1 and True are equal in Python: keep the type so a bool never passes for an index. A float
    # of integral value is that integer (X-ARES's dict lookup takes 60.0 for the note 60).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return (type(value).__name__, value)


def _preview(classes: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(repr(c) for c in classes[:limit])
    return f"{shown}, … {len(classes)} in all" if len(classes) > limit else shown
