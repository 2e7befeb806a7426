"""``--xares-knn=xares-0.1.3`` gives X-ARES 0.1.3's own kNN; the default stays per-sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_xares.errors import UsageError
from pytest_xares.heads.knn import knn_predict
from pytest_xares.settings import Settings


def xares_knn(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, classes: int) -> np.ndarray:
    """X-ARES 0.1.3's kNN as its trainer.KNN computes it, written out: the training features
    transposed to [D, N] and L2-normalised along dim 1 (per dimension), the test features per
    sample, the 10 largest similarities, softmax(sims / 0.07), one-hot votes summed, argmax."""
    train = torch.nn.functional.normalize(torch.from_numpy(train_x).T, dim=1, p=2)
    test = torch.nn.functional.normalize(torch.from_numpy(test_x), dim=1, p=2)
    sims, indices = (test @ train).topk(10, largest=True, sorted=True)
    labels = torch.gather(torch.from_numpy(train_y).view(1, -1).expand(len(test), -1), 1, indices)
    scores = torch.nn.functional.one_hot(labels, num_classes=classes) * torch.softmax(sims / 0.07, 1)[..., None]
    return scores.sum(1).argmax(1).numpy()


def test_the_compatible_mode_equals_xares_and_differs_from_the_default() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 32)).astype(np.float32)
    train_y = rng.integers(0, 5, 400)
    test_y = rng.integers(0, 5, 200)
    # Features with a common offset and norms that vary across clips, as log-mel features have:
    # normalised per dimension, the training clips of large norm become everybody's neighbours.
    scale = rng.uniform(0.5, 2, (400, 1)).astype(np.float32)
    train_x = (3 + centres[train_y] + 0.8 * rng.standard_normal((400, 32)).astype(np.float32)) * scale
    test_x = 3 + centres[test_y] + 0.8 * rng.standard_normal((200, 32)).astype(np.float32)
    compatible = knn_predict(train_x, train_y, test_x, 5, normalisation="xares-0.1.3")
    assert np.array_equal(compatible, xares_knn(train_x, train_y, test_x, 5))
    default = knn_predict(train_x, train_y, test_x, 5)
    assert (default == test_y).mean() > 0.95 and (compatible == test_y).mean() < 0.6


def test_the_option_is_checked_and_defaults_to_per_sample() -> None:
    assert Settings.with_defaults().knn == "per-sample"
    assert Settings.with_defaults(knn="xares-0.1.3").knn == "xares-0.1.3"
    with pytest.raises(UsageError, match="--xares-knn"):
        Settings.with_defaults(knn="xares")
