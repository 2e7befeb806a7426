"""One head per kind of task: what is trained on a fold's embeddings and how its test split is
scored. The engine hands every head the same things and gets an ``Outcome`` back.

=============  =====================================  ==============================================
kind           head                                   score
=============  =====================================  ==============================================
clip           LayerNorm + Linear, cross-entropy      accuracy (kNN: per-sample cosine, 10 votes)
multilabel     LayerNorm + Linear, BCE                macro mAP over classes with a positive
regression     LayerNorm + Linear (1 output), MSE     Pearson correlation, MSE beside it
frame          LayerNorm + Linear per frame, BCE      segment F1 (macro or micro)
retrieval      audio and text towers, InfoNCE         recall@1, both directions averaged
asr            SwiGLU adapter under a frozen LM       max(0, 1 − WER)
=============  =====================================  ==============================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch

from pytest_xares import metrics
from pytest_xares.encode import EmbeddingSet, FrameSet
from pytest_xares.probes.train import TrainConfig, TrainLog
from pytest_xares.task import ClipTask

Split = Union[EmbeddingSet, FrameSet]


@dataclass(frozen=True)
class Fold:
    """What a head gets: the task, a fold's splits, and how to train."""

    task: Any
    train: Split
    valid: Split
    test: Split
    config: TrainConfig
    device: torch.device
    #: A language model in place of the task's own (``--xares-asr-lm``).
    lm: str | None = None
    #: Models and tokenizers come from local copies only.
    offline: bool = False


Head = Callable[[Fold], tuple[metrics.Outcome, dict[str, Any]]]


def run_head(method: str, fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    """The test outcome of ``method`` on one fold, and what training chose (best epoch, …)."""
    if method == "knn":
        return _knn(fold)
    return HEADS[fold.task.kind](fold)


def check_available(task: ClipTask, lm: str | None = None, offline: bool = False) -> None:
    """Raise ``Unavailable`` when what the task's head needs besides data (a tokenizer, a
    language model, an optional package) cannot be had: checked before its audio is encoded."""
    if task.kind == "retrieval":
        task.tokenizer()
    elif task.kind == "asr":
        from pytest_xares.probes.asr import check_language_model

        check_language_model(lm or task.lm, offline)


def _knn(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.knn import knn_predict

    (train_inputs, train_targets), _, test_inputs, test_targets = _pairs(fold)
    predicted = knn_predict(train_inputs, train_targets, test_inputs, fold.task.num_classes)
    return metrics.accuracy_outcome(predicted, test_targets), {}


def _logged(log: TrainLog) -> dict[str, Any]:
    return {"best_epoch": log.best_epoch, "valid": round(log.best_valid, 6)}


def _pairs(fold: Fold) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    task = fold.task
    return (
        (fold.train.features, task.targets(fold.train.metadata)),
        (fold.valid.features, task.targets(fold.valid.metadata)),
        fold.test.features,
        task.targets(fold.test.metadata),
    )


def _classes(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.linear import linear_probe

    train, valid, test_inputs, test_targets = _pairs(fold)
    predicted, log = linear_probe(train, valid, test_inputs, fold.task.num_classes, fold.config)
    return metrics.accuracy_outcome(predicted, test_targets), _logged(log)


def _multilabel(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.linear import train_linear

    train, valid, test_inputs, test_targets = _pairs(fold)
    logits, log = train_linear(
        train, valid, test_inputs, fold.task.num_classes, torch.nn.functional.binary_cross_entropy_with_logits,
        _mean_average_precision, fold.config,
    )
    return metrics.map_outcome(logits, test_targets), _logged(log)


def _mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    # A validation split without positives scores every epoch alike (0): the first is kept.
    return float(np.nan_to_num(metrics.mean_average_precision(scores, targets)))


def _regression(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.linear import train_linear

    train, valid, test_inputs, test_targets = _pairs(fold)
    outputs, log = train_linear(
        train, valid, test_inputs, 1, lambda out, target: torch.nn.functional.mse_loss(out[:, 0], target),
        lambda out, target: metrics.pearson(out[:, 0], target), fold.config,
    )
    return metrics.regression_outcome(outputs[:, 0], test_targets), _logged(log)


def _frames(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.frames import FrameSamples, frame_probe

    task = fold.task
    hop = fold.train.hop_seconds
    segment = metrics.segment_frames(task.segment_seconds, hop)

    def samples(split: FrameSet) -> FrameSamples:
        return FrameSamples(split, [task.spans(m, hop) for m in split.metadata], task.num_classes)

    def targets(split: FrameSet) -> list[np.ndarray]:
        clips = samples(split)
        return [clips.targets(i) for i in range(len(split))]

    def f1(probabilities: list[np.ndarray], truth: list[np.ndarray]) -> metrics.Outcome:
        return metrics.segment_f1_outcome(probabilities, truth, segment, task.average)

    valid_targets = targets(fold.valid)  # built once: every epoch is scored against them
    probabilities, log = frame_probe(
        samples(fold.train), fold.valid, fold.test, lambda p: f1(p, valid_targets).score, fold.config, task.pos_weight
    )
    return f1(probabilities, targets(fold.test)), _logged(log)


def _retrieval(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.retrieval import retrieval_probe

    task = fold.task
    pair = lambda split: (split.features, [task.target(m) for m in split.metadata])  # noqa: E731
    outcome, log = retrieval_probe(
        pair(fold.train), pair(fold.valid), pair(fold.test), task.tokenizer(), fold.config, fold.device, width=task.width,
    )
    return outcome, _logged(log)


def _asr(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    from pytest_xares.probes.asr import asr_probe

    task = fold.task
    # Scored on lower-cased text, so trained on it too (LibriSpeech's transcripts are upper case,
    # which a language model's tokenizer splits into many more, rarer tokens).
    transcript = lambda metadata: " ".join(task.target(metadata).lower().split())  # noqa: E731
    hypotheses, log = asr_probe(
        fold.train, fold.valid, fold.test, transcript, fold.config, fold.lm or task.lm, fold.device,
        max_new_tokens=task.max_new_tokens, offline=fold.offline,
    )
    references = [transcript(m) for m in fold.test.metadata]
    return metrics.wer_outcome(hypotheses, references), {**_logged(log), "examples": list(zip(references, hypotheses))[:3]}


HEADS: dict[str, Head] = {
    "clip": _classes,
    "multilabel": _multilabel,
    "regression": _regression,
    "frame": _frames,
    "retrieval": _retrieval,
    "asr": _asr,
}
