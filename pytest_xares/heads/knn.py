"""kNN with per-sample cosine similarity and softmax-weighted votes.

Each embedding is L2-normalised on its own (unlike X-ARES 0.1.3, which normalised its training
features per dimension across samples); the k most similar training samples vote with weights
``softmax(similarity / temperature)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.heads import metrics
from pytest_xares.heads.linear import pooled_pairs

if TYPE_CHECKING:
    from pytest_xares.heads import Fold


def knn_predict(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    num_classes: int,
    k: int = 10,
    temperature: float = 0.07,
    chunk: int = 1024,
) -> np.ndarray:
    """The predicted class of every test sample."""
    train = torch.nn.functional.normalize(torch.from_numpy(train_x).float(), dim=1)
    test = torch.nn.functional.normalize(torch.from_numpy(test_x).float(), dim=1)
    labels = torch.from_numpy(train_y).long()
    k = min(k, len(train))
    predictions = []
    for part in test.split(chunk):
        similarity, neighbour = (part @ train.T).topk(k, dim=1)  # sorted, ties by lower index
        weights = torch.softmax(similarity / temperature, dim=1)
        votes = torch.zeros(len(part), num_classes).scatter_add_(1, labels[neighbour], weights)
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions).numpy() if predictions else np.zeros(0, dtype=np.int64)


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    (train_inputs, train_targets), _, test_inputs, test_targets = pooled_pairs(fold)
    predicted = knn_predict(train_inputs, train_targets, test_inputs, fold.task.num_classes)
    return metrics.accuracy_outcome(predicted, test_targets), {}
