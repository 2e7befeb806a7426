"""The paired comparison of encoders: the per-clip data a result keeps recomputes its metric
exactly, two results on the same clips are resampled together, and results on other clips, or
whose data was changed, are refused."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from pytest_xares.heads import metrics
from pytest_xares.heads.metrics import Outcome, bootstrap_interval
from pytest_xares.heads.retrieval import retrieval_outcome
from pytest_xares.outputs.compare import WIDTH, Column, compare, render
from pytest_xares.results import paired
from pytest_xares.results.paired import PairingError, aligned, clip_scores, per_clip
from pytest_xares.results.scores import Results, TaskInfo, TaskResult

RNG = np.random.default_rng(0)


def _outcomes() -> dict[str, Outcome]:
    n, classes = 40, 5
    targets = (RNG.random((n, classes)) < 0.3).astype(float)
    targets[0] = 1  # every class has a positive
    frames = [RNG.random((int(RNG.integers(5, 30)), 3)) for _ in range(n)]
    truth = [(RNG.random(f.shape) < 0.4).astype(float) for f in frames]
    owner = np.repeat(np.arange(n), 3)
    made = {
        "accuracy": metrics.accuracy_outcome(RNG.integers(0, 3, n), RNG.integers(0, 3, n)),
        "map": metrics.map_outcome(np.round(RNG.normal(size=(n, classes)), 1), targets),  # ties on purpose
        "pearson": metrics.regression_outcome(RNG.normal(size=n), RNG.normal(size=n)),
        "f1_macro": metrics.segment_f1_outcome(frames, truth, 4, "macro"),
        "f1_micro": metrics.segment_f1_outcome(frames, truth, 4, "micro"),
        "recall_at_1": retrieval_outcome(RNG.normal(size=(n, 8)), RNG.normal(size=(3 * n, 8)), owner),
    }
    try:
        import jiwer  # noqa: F401

        words = ["a b c", "a b", "c d e f", "b", "a a"]
        made["wer"] = metrics.wer_outcome([words[i % 5] for i in range(n)], [words[(i * 3) % 5] for i in range(n)])
    except ImportError:
        pass
    return made


@pytest.mark.parametrize("kind", ["accuracy", "map", "pearson", "f1_macro", "f1_micro", "recall_at_1", "wer"])
def test_the_kept_per_clip_data_recomputes_every_metric_as_the_head_does(kind: str) -> None:
    outcomes = _outcomes()
    if kind not in outcomes:
        pytest.skip("word error rates need jiwer")
    outcome = outcomes[kind]
    keys = [f"shard/{i}" for i in range(outcome.units)]
    stored = json.loads(json.dumps(per_clip([outcome], [keys])))  # through the results file's JSON
    result = _result("t", stored, [outcome.score])
    (fold,) = clip_scores(result)
    assert fold.kind == kind and fold.keys == tuple(keys)
    rescore = fold.rescorer()
    for counts in [
        np.ones(outcome.units),
        *RNG.multinomial(outcome.units, np.full(outcome.units, 1 / outcome.units), 20),
    ]:
        counts = counts.astype(np.float64)
        assert rescore(counts) == pytest.approx(outcome.rescore(counts), abs=1e-12, nan_ok=True)


def test_a_test_set_too_large_to_keep_has_no_per_clip_data(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = _outcomes()["map"]
    monkeypatch.setattr(paired, "MAX_VALUES", 10)
    assert per_clip([outcome], [[str(i) for i in range(outcome.units)]]) is None
    assert per_clip([dataclasses.replace(outcome, per_unit=None)], [[str(i) for i in range(outcome.units)]]) is None


def _result(task: str, stored: list | None, folds: list[float], method: str = "mlp") -> TaskResult:
    return TaskResult(
        task, method, "accuracy", float(np.mean(folds)), folds, (0.0, 1.0), {}, {}, 0, "fp", "cpu", 42, per_clip=stored
    )


def _accuracy_result(task: str, correct: np.ndarray, keys: list[str] | None = None) -> TaskResult:
    outcome = metrics.accuracy_outcome(correct.astype(int), np.ones(len(correct), dtype=int))
    keys = keys or [f"{task}/{i}" for i in range(len(correct))]
    return _result(task, per_clip([outcome], [keys]), [outcome.score])


def _column(label: str, *results: TaskResult, weights: dict[str, float] | None = None) -> Column:
    tasks = {r.task: TaskInfo(r.task, r.task, "accuracy", (weights or {}).get(r.task, 100), False) for r in results}
    return Column(label, Results(list(results), dict(tasks), encoder=label), (f"{label}.json",))


def test_a_small_gain_on_the_same_clips_is_told_from_noise() -> None:
    """Half a point on 2000 clips: each score's own interval is ±2 points wide, so they overlap
    completely; but the better encoder is right on every clip the other gets right, so every
    resample of the same clips shows the gain."""
    a = np.zeros(2000)
    a[:1600] = 1
    b = a.copy()
    b[1600:1610] = 1
    first, second = _accuracy_result("t", a), _accuracy_result("t", b)
    own = [bootstrap_interval([metrics.accuracy_outcome(x.astype(int), np.ones(2000, int))], 42) for x in (a, b)]
    assert own[0][1] > own[1][0]  # the two scores' own intervals overlap

    (row,) = compare([_column("A", first), _column("B", second)]).rows
    (difference,) = row.differences
    assert difference is not None and difference.value == pytest.approx(0.005)
    assert difference.interval is not None and 0 < difference.interval[0] <= 0.005 <= difference.interval[1]
    assert difference.significant


def test_the_same_result_twice_differs_by_nothing_and_a_result_without_clips_is_unpaired() -> None:
    correct = (RNG.random(300) < 0.7).astype(float)
    result = _accuracy_result("t", correct)
    (row,) = compare([_column("A", result), _column("B", result)]).rows
    assert row.differences[0] is not None and row.differences[0].interval == (0.0, 0.0)

    old = dataclasses.replace(result, per_clip=None, score=result.score + 0.01)
    comparison = compare([_column("A", result), _column("B", old)])
    difference = comparison.rows[0].differences[0]
    assert difference is not None and difference.value == pytest.approx(0.01) and difference.interval is None
    assert "unpaired" in render(comparison) and any(note.startswith("unpaired:") for note in comparison.notes)


def test_results_on_other_clips_are_refused_naming_the_task_and_files() -> None:
    correct = (RNG.random(50) < 0.5).astype(float)
    first = _accuracy_result("esc50", correct)
    other = _accuracy_result("esc50", correct, [f"esc50/{i}" for i in range(49)] + ["elsewhere/9"])
    with pytest.raises(PairingError, match=r"esc50: A \(A.json\) and B \(B.json\).*test clips differ.*elsewhere/9"):
        compare([_column("A", first), _column("B", other)])


def test_the_same_clips_in_another_order_are_paired_clip_by_clip() -> None:
    correct = (RNG.random(80) < 0.5).astype(float)
    keys = [f"t/{i}" for i in range(80)]
    order = RNG.permutation(80)
    shuffled = _accuracy_result("t", correct[order], [keys[i] for i in order])
    (fold,) = aligned(clip_scores(_accuracy_result("t", correct)), clip_scores(shuffled), "t")
    assert fold.keys == tuple(keys) and np.array_equal(fold.arrays["correct"], correct)


def test_a_results_file_changed_after_it_was_written_is_refused() -> None:
    result = _accuracy_result("t", (RNG.random(60) < 0.5).astype(float))
    changed = dataclasses.replace(result, fold_scores=[result.score + 0.05])
    with pytest.raises(PairingError, match="not the recorded score"):
        clip_scores(changed)
    broken = dataclasses.replace(result, per_clip=[{**result.per_clip[0], "keys": "not base64!"}])  # type: ignore[index]
    with pytest.raises(PairingError, match="cannot be read"):
        clip_scores(broken)
    two_folds = dataclasses.replace(result, fold_scores=[result.score, result.score])
    with pytest.raises(PairingError, match="1 folds for 2 scores"):
        clip_scores(two_folds)


def test_the_weighted_average_is_resampled_over_all_its_tasks_at_once() -> None:
    a1, a2 = (RNG.random(400) < 0.6).astype(float), (RNG.random(200) < 0.8).astype(float)
    b1, b2 = a1.copy(), a2.copy()
    b1[np.flatnonzero(a1 == 0)[:20]] = 1  # B better on task one, equal on task two
    weights = {"one": 300, "two": 100}
    first = _column("A", _accuracy_result("one", a1), _accuracy_result("two", a2), weights=weights)
    second = _column("B", _accuracy_result("one", b1), _accuracy_result("two", b2), weights=weights)
    comparison = compare([first, second])
    public = next(row for row in comparison.averages if row.name.startswith("MLP, public"))
    expected = (300 * (b1.mean() - a1.mean()) + 0) / 400
    assert public.differences[0] is not None and public.differences[0].value == pytest.approx(expected)
    assert public.differences[0].interval is not None and public.differences[0].significant

    unpaired = _column(
        "B",
        _accuracy_result("one", b1),
        dataclasses.replace(_accuracy_result("two", b2), per_clip=None),
        weights=weights,
    )
    public = next(row for row in compare([first, unpaired]).averages if row.name.startswith("MLP, public"))
    assert public.differences[0] is not None and public.differences[0].interval is None


def test_a_comparison_of_several_encoders_fits_a_terminal() -> None:
    names = ["librispeechmalefemale", "fluentspeechcommands", "esc50"]
    columns = []
    for k, label in enumerate(["dasheng-base-finetuned", "whisper-base", "my-new-encoder-v2", "wav2vec2-large"]):
        columns.append(
            _column(label, *(_accuracy_result(n, (RNG.random(100) < 0.5 + 0.1 * k).astype(float)) for n in names))
        )
    for count in (2, 3, 4):
        text = render(compare(columns[:count], resamples=50))
        assert max(map(len, text.splitlines())) <= WIDTH, text
        assert all(f"{c.label}:" in text for c in columns[:count])


def test_one_encoder_is_no_comparison() -> None:
    with pytest.raises(Exception, match="at least two"):
        compare([_column("A", _accuracy_result("t", np.ones(5)))])
