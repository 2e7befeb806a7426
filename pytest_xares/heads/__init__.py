"""One head per kind of task: what is trained on a fold's embeddings and how its test split is
scored. The engine hands every head the same ``Fold`` and gets an ``Outcome`` back.

=============  =====================================  ==============================================
module         head                                   score
=============  =====================================  ==============================================
classes        LayerNorm + Linear, cross-entropy      accuracy
knn            per-sample cosine kNN, 10 votes        accuracy (the ``knn`` method of clip tasks)
multilabel     LayerNorm + Linear, BCE                macro mAP over classes with a positive
regression     LayerNorm + Linear (1 output), MSE     Pearson correlation, MSE beside it
frame          LayerNorm + Linear per frame, BCE      segment F1 (macro or micro)
retrieval      audio and text towers, InfoNCE         recall@1, both directions averaged
asr            SwiGLU adapter under a frozen LM       max(0, 1 − WER)
=============  =====================================  ==============================================

A task class names its head module (``Task.head``); a head module has:

- ``train_and_score(fold) -> (Outcome, details)``: train on ``fold.train``, pick the epoch by
  ``fold.valid``, score ``fold.test``; ``details`` (best epoch, …) go into the results file;
- ``FRAMES = True`` where it reads every frame's embedding rather than the mean over frames;
- ``SETTINGS``: the run's settings that change its score, by their name in the result key;
- ``check(task, options, offline)``: where it needs more than embeddings (a tokenizer, a
  language model), raise ``Unavailable`` before any audio is encoded.
- ``SEEDED = False`` where nothing it does draws on the seed (kNN): with ``--xares-seeds=N`` it
  is trained once, and that score stands for every seed.
- ``MIXES_LAYERS = False`` where it learns nothing, so no layer weights either (kNN): under
  ``--xares-layers=weighted`` it scores the last layer. Every other head builds its model on
  ``layers.mixed``, which mixes the layers of a split that holds several.

``train`` is the training loop every head shares, ``linear`` the LayerNorm + Linear probe, and
``metrics`` the scores with their bootstrap.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch

from pytest_xares.embeddings.sets import Split
from pytest_xares.heads.metrics import Outcome
from pytest_xares.heads.train import TrainConfig
from pytest_xares.task import KNN, Task

#: The head of the ``knn`` method, whatever the task's kind.
KNN_HEAD = "pytest_xares.heads.knn"


@dataclass(frozen=True)
class Fold:
    """What a head gets: the task, a fold's splits, and how to train."""

    task: Any
    train: Split
    valid: Split
    test: Split
    config: TrainConfig
    device: torch.device
    #: The head's own settings (``SETTINGS``), by name: the ASR task's language model, say.
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Models and tokenizers come from local copies only.
    offline: bool = False


def head_of(task: Task, method: str) -> ModuleType:
    """The module of the head that ``method`` trains on ``task``."""
    return importlib.import_module(KNN_HEAD if method == KNN else task.head)


def stores_frames(task: Task) -> bool:
    """Whether the task's head reads every frame's embedding (stored float16), not the mean over frames."""
    return bool(getattr(head_of(task, "mlp"), "FRAMES", False))


def depends_on_seed(task: Task, method: str) -> bool:
    """Whether training ``method`` on ``task`` draws on the seed (``SEEDED``, true unless a head says otherwise)."""
    return bool(getattr(head_of(task, method), "SEEDED", True))


def mixes_layers(task: Task, method: str) -> bool:
    """Whether ``method``'s head on ``task`` learns a weighted sum of layers (``MIXES_LAYERS``, true
    unless a head says otherwise)."""
    return bool(getattr(head_of(task, method), "MIXES_LAYERS", True))


def head_options(task: Task, method: str, settings: Any) -> dict[str, Any]:
    """The head's settings (``SETTINGS``) that are set in ``settings``, by their name in the result key."""
    wanted: Mapping[str, str] = getattr(head_of(task, method), "SETTINGS", {})
    return {
        name: getattr(settings, attribute)
        for name, attribute in wanted.items()
        if getattr(settings, attribute, None) is not None
    }


def check_available(task: Task, method: str, options: Mapping[str, Any], offline: bool = False) -> None:
    """Raise ``Unavailable`` when what the head needs besides data (a tokenizer, a language model,
    an optional package) cannot be had: checked before the task's audio is encoded."""
    check = getattr(head_of(task, method), "check", None)
    if check is not None:
        check(task, dict(options), offline)


def train_and_score(method: str, fold: Fold) -> tuple[Outcome, dict[str, Any]]:
    """The test outcome of ``method`` on one fold, and what training chose (best epoch, …)."""
    return head_of(fold.task, method).train_and_score(fold)
