"""kNN with cosine similarity and softmax-weighted votes: the k = 10 most similar training
samples vote with weights ``softmax(similarity / 0.07)``.

By default (``--xares-knn=per-sample``) each embedding is L2-normalised on its own, as the
protocol intends. ``--xares-knn=xares-0.1.3`` reproduces X-ARES 0.1.3, whose published kNN column
was made this way: the training features are L2-normalised per dimension, across samples, while
the test features are normalised per sample; a few large-norm training vectors then become
everybody's nearest neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.heads import metrics
from pytest_xares.heads.linear import CPU, pooled_pairs

if TYPE_CHECKING:
    from pytest_xares.heads import Fold

#: Settings that change the score, by their name in the result key: ``--xares-knn``.
SETTINGS = {"normalisation": "knn"}
#: Nothing here is random: with several seeds (``--xares-seeds``) kNN runs once.
SEEDED = False
#: It learns nothing, so no weights of layers: ``--xares-layers=weighted`` scores its last layer.
MIXES_LAYERS = False


def knn_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    num_classes: int,
    k: int = 10,
    temperature: float = 0.07,
    chunk: int = 1024,
    normalisation: str = "per-sample",
    device: torch.device = CPU,
) -> np.ndarray:
    """The predicted class of every test sample (``normalisation``: ``"per-sample"`` or
    ``"xares-0.1.3"``, see the module's docstring), computed on ``device``."""
    if normalisation not in ("per-sample", "xares-0.1.3"):
        raise ValueError(f"unknown kNN normalisation {normalisation!r}")
    per_dimension = normalisation == "xares-0.1.3"
    train = torch.nn.functional.normalize(torch.from_numpy(train_x).float().to(device), dim=0 if per_dimension else 1)
    test = torch.nn.functional.normalize(torch.from_numpy(test_x).float().to(device), dim=1)
    labels = torch.from_numpy(train_y).long().to(device)
    k = min(k, len(train))
    predictions = []
    for part in test.split(chunk):
        similarity, neighbour = (part @ train.T).topk(k, dim=1)  # sorted, ties by lower index
        weights = torch.softmax(similarity / temperature, dim=1)
        votes = torch.zeros(len(part), num_classes, device=device).scatter_add_(1, labels[neighbour], weights)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions).cpu().numpy() if predictions else np.zeros(0, dtype=np.int64)


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    (train_inputs, train_targets), (valid_inputs, valid_targets), test_inputs, test_targets = pooled_pairs(fold)
    normalisation = str(fold.options.get("normalisation", "per-sample"))

    def predict(inputs: np.ndarray) -> np.ndarray:
        classes = fold.task.num_classes
        return knn_predict(
            train_inputs, train_targets, inputs, classes, normalisation=normalisation, device=fold.device
        )

    # The validation accuracy chooses nothing here, but it does among layers (``--xares-layers=all``).
    valid = metrics.accuracy(predict(valid_inputs), valid_targets)
    return metrics.accuracy_outcome(predict(test_inputs), test_targets), {"valid": round(valid, 6)}
