from __future__ import annotations

import numpy as np

from pytest_xares.heads.knn import knn_predict
from pytest_xares.heads.linear import linear_probe
from pytest_xares.heads.metrics import accuracy
from pytest_xares.heads.train import TrainConfig


def test_knn_uses_per_sample_cosine_so_vector_length_does_not_matter() -> None:
    train = np.array([[1.0, 0.0], [100.0, 1.0], [0.0, 1.0], [0.1, 50.0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    test = np.array([[0.001, 0.0], [0.0, 3.0]], dtype=np.float32)
    assert knn_predict(train, labels, test, num_classes=2, k=2).tolist() == [0, 1]


def test_knn_votes_are_softmax_weighted_by_similarity() -> None:
    # One very similar neighbour of class 1 outweighs two less similar ones of class 0.
    train = np.array([[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]], dtype=np.float32)
    labels = np.array([1, 0, 0])
    test = np.array([[1.0, 0.0]], dtype=np.float32)
    assert knn_predict(train, labels, test, num_classes=2, k=3).tolist() == [1]
    # With a high temperature the votes are nearly equal and the majority wins.
    assert knn_predict(train, labels, test, num_classes=2, k=3, temperature=100.0).tolist() == [0]


def test_knn_with_fewer_training_samples_than_k() -> None:
    train = np.eye(3, dtype=np.float32)
    assert knn_predict(train, np.array([0, 1, 2]), train, num_classes=3).tolist() == [0, 1, 2]


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 8)).astype(np.float32) + 1.5 * np.eye(3, 8, dtype=np.float32)[y]
    return x, y


def test_linear_probe_learns_and_is_deterministic_for_a_seed() -> None:
    train, valid, test = blobs(2000, 0), blobs(200, 1), blobs(200, 2)
    config = TrainConfig(epochs=20, batch_size=32, learning_rate=1e-3, seed=42)
    first, log = linear_probe(train, valid, test[0], 3, config)
    second, _ = linear_probe(train, valid, test[0], 3, config)
    assert first.tolist() == second.tolist()
    assert 0.6 < accuracy(first, test[1]) <= 1.0
    assert 0 <= log.best_epoch < 20 and log.best_valid == max(log.valid_scores)


def test_linear_probe_restores_the_best_validation_epoch() -> None:
    train, valid, test = blobs(300, 0), blobs(100, 1), blobs(100, 2)
    _, log = linear_probe(train, valid, test[0], 3, TrainConfig(8, 16, 1e-2, seed=1))
    assert log.valid_scores[log.best_epoch] == log.best_valid
    assert log.valid_scores.index(max(log.valid_scores)) == log.best_epoch  # ties keep the earlier epoch


def test_another_seed_gives_another_initialisation() -> None:
    train, valid, test = blobs(60, 0), blobs(30, 1), blobs(30, 2)
    runs = {linear_probe(train, valid, test[0], 3, TrainConfig(1, 8, 1e-3, seed))[1].valid_scores for seed in range(6)}
    assert len(runs) > 1
