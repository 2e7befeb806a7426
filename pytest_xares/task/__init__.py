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

``Task`` holds what every kind shares; each kind is a sibling class in a module of its own here
(``classes``, ``multilabel``, ``regression``, ``frame``, ``retrieval``, ``asr``) and names its head
in ``pytest_xares.heads``.
"""

from pytest_xares.errors import LabelError, Unavailable
from pytest_xares.task.asr import AsrTask
from pytest_xares.task.base import (
    KNN,
    METHODS,
    MLP,
    KFold,
    Method,
    Splits,
    Task,
    TrainValidTest,
    folds,
    splits,
    vocabulary,
)
from pytest_xares.task.classes import ClipTask
from pytest_xares.task.frame import Event, FrameTask, frames_from_spans
from pytest_xares.task.multilabel import MultiLabelTask
from pytest_xares.task.regression import RegressionTask
from pytest_xares.task.retrieval import RetrievalTask

__all__ = [
    "KNN",
    "METHODS",
    "MLP",
    "AsrTask",
    "ClipTask",
    "Event",
    "FrameTask",
    "KFold",
    "LabelError",
    "Method",
    "MultiLabelTask",
    "RegressionTask",
    "RetrievalTask",
    "Splits",
    "Task",
    "TrainValidTest",
    "Unavailable",
    "folds",
    "frames_from_spans",
    "splits",
    "vocabulary",
]
