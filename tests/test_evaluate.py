from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_xares.embeddings.sets import EmbeddingSet
from pytest_xares.engine.evaluate import folds_of
from pytest_xares.results.scores import Results, TaskResult, averages, weighted_average
from pytest_xares.results.table import averages_table, scores_table
from pytest_xares.task import ClipTask, folds, splits
from pytest_xares.task.registry import load_tasks


def embedding_set(values: list[int]) -> EmbeddingSet:
    return EmbeddingSet(
        np.array([[v] for v in values], dtype=np.float32), [f"k{v}" for v in values], [{"y": v} for v in values]
    )


def test_k_fold_trains_on_the_other_folds_and_tests_on_the_held_out_one() -> None:
    task = ClipTask(name="t", formal_name="T", splits=folds(range(3), "f{k}.tar"), label="y", classes=10, weight=1)
    sets = {"f0.tar": embedding_set([0, 1]), "f1.tar": embedding_set([2]), "f2.tar": embedding_set([3, 4])}
    result = folds_of(task, sets)
    assert len(result) == 3
    (train, valid, test) = result[1]
    assert sorted(task.targets(train.metadata).tolist()) == [0, 1, 3, 4]
    assert task.targets(valid.metadata).tolist() == task.targets(test.metadata).tolist() == [2]
    assert (
        train.features.ravel().tolist() == task.targets(train.metadata).tolist()
    )  # features stay aligned with targets


def test_train_valid_test_with_a_split_used_twice() -> None:
    task = ClipTask(name="t", formal_name="T", splits=splits("tr", "te", "te"), label="y", classes=10, weight=1)
    ((train, valid, test),) = folds_of(task, {"tr*.tar": embedding_set([1, 2]), "te*.tar": embedding_set([3])})
    assert task.targets(train.metadata).tolist() == [1, 2] and task.targets(valid.metadata).tolist() == task.targets(
        test.metadata
    ).tolist() == [3]


def result(task: str, method: str, score: float) -> TaskResult:
    return TaskResult(task, method, "accuracy", score, [score], (score, score), {}, {"total": 1.0}, 0, "fp", "cpu", 42)


def test_weighted_average() -> None:
    assert weighted_average([(1.0, 1), (0.0, 3)]) == 0.25
    assert weighted_average([]) is None


def test_public_average_leaves_out_private_tasks_and_uses_fixed_weights() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    results = [
        result("esc50", "mlp", 0.8),
        result("cremad", "mlp", 0.6),
        result("inside_outside_car", "mlp", 0.9),
        result("finger_snap", "mlp", 0.1),  # private, and disabled in X-ARES: in neither average
    ]
    got = {(a.method, a.scope): a for a in averages(results, tasks)}
    public, everything = got["mlp", "public"], got["mlp", "all"]
    assert public.tasks == ("esc50", "cremad")
    assert everything.tasks == ("esc50", "cremad", "inside_outside_car")
    assert public.score == pytest.approx((0.8 * 400 + 0.6 * 1116) / (400 + 1116))
    assert everything.score == pytest.approx((0.8 * 400 + 0.6 * 1116 + 0.9 * 5000) / (400 + 1116 + 5000))
    # The reference average covers the same tasks with the same weights.
    assert public.reference == pytest.approx((0.857 * 400 + 0.767 * 1116) / (400 + 1116))
    assert ("knn", "public") not in got


def test_the_table_shows_the_reference_difference_for_mlp_only() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    table = scores_table(Results([result("esc50", "mlp", 0.8), result("esc50", "knn", 0.5)], tasks))
    row = next(line for line in table.splitlines() if line.startswith("| esc50"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:7] == ["esc50", "accuracy", "0.800", "0.500", "0.857", "-0.057", "0.618"]
    assert "kNN, public" in averages_table(Results([result("esc50", "knn", 0.5)], tasks))


def test_bootstrap_interval_brackets_the_score_and_narrows_with_more_clips() -> None:
    from pytest_xares.heads.metrics import accuracy_outcome, bootstrap_interval

    right = lambda correct: accuracy_outcome(np.asarray(correct), np.ones(len(correct)))
    few = [right([1, 0, 1, 1] * 10)]
    many = [right([1, 0, 1, 1] * 1000)]
    low, high = bootstrap_interval(few, seed=0)
    assert low < 0.75 < high and high - low > 0.15
    low_many, high_many = bootstrap_interval(many, seed=0)
    assert low_many < 0.75 < high_many and high_many - low_many < 0.05
    assert bootstrap_interval(few, seed=0) == (low, high)
    # k-fold: the interval of the mean over folds
    folds = [right([1] * 50), right([0] * 50)]
    low, high = bootstrap_interval(folds, seed=1)
    assert low == high == 0.5  # every resample of a constant fold is that constant


def test_a_regression_score_is_reported_beside_its_mse_and_left_out_of_the_averages() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    pearson = result("speechocean762", "mlp", 0.42)
    pearson.metric, pearson.extra = "pearson", {"mse": 1.234}
    results = Results([result("esc50", "mlp", 0.8), pearson], tasks)
    (public, _) = [a for a in results.averages() if a.method == "mlp"]
    assert public.tasks == ("esc50",) and public.score == pytest.approx(0.8)
    row = next(line for line in scores_table(results).splitlines() if line.startswith("| speechocean762"))
    assert "pearson (mse 1.234)" in row and "0.420" in row
    text = str(results)
    assert "not in the weighted averages (no X-ARES weight): speechocean762" in text
    assert "| pearson (mse 1.234)" in results.to_markdown()
    back = Results.from_dict(json.loads(results.to_json()))
    assert back.results[1].extra == {"mse": 1.234} and not back.tasks["speechocean762"].averaged
