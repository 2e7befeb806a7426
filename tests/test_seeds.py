"""``--xares-seeds=N``: each head trained with N seeds on one encoding, the score their mean shown
± their standard deviation, the per-clip data of every seed for ``xares compare``, a cache entry
per N, and baseline tolerances derived from the spread an N-seed run measured."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

import pytest_xares
from pytest_xares.cache.keys import PROTOCOL_VERSION, RESULT_LAYOUT, result_key
from pytest_xares.cli.main import main
from pytest_xares.errors import UsageError
from pytest_xares.hashing import digest
from pytest_xares.results import paired
from pytest_xares.results.baseline import Baseline, BaselineError, Entry
from pytest_xares.results.scores import Results, TaskResult
from pytest_xares.settings import Settings
from pytest_xares.task.registry import load_tasks
from pytest_xares.testing import BANDS_ENCODER, MEL, encoder_file

#: demo_count's probe depends on the seed (its kNN does not): 100 test crops, a spread of a few points.
TASK = "demo_count"


def by_method(results: Results) -> dict[str, TaskResult]:
    return {r.method: r for r in results.results}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Results]:
    """demo_count with seeds 42, 43 and 44 one at a time, then with ``seeds=3`` on the same cache."""
    where = tmp_path_factory.mktemp("seeds")
    kwargs = {"tasks": [TASK], "data_dir": where / "data", "cache_dir": where / "cache", "progress": False}
    alone = {f"seed {42 + k}": pytest_xares.evaluate(MEL, seed=42 + k, **kwargs) for k in range(3)}
    three = pytest_xares.evaluate(MEL, seeds=3, **kwargs)
    again = pytest_xares.evaluate(MEL, seeds=3, **kwargs)
    two = pytest_xares.evaluate(MEL, seeds=2, **kwargs)
    return {**alone, "three": three, "again": again, "two": two}


def test_each_seed_scores_as_that_seed_alone_and_the_score_is_their_mean(runs: dict[str, Results]) -> None:
    mlp = by_method(runs["three"])["mlp"]
    alone = [by_method(runs[f"seed {s}"])["mlp"].score for s in (42, 43, 44)]
    assert mlp.seed_scores == alone
    assert len(set(alone)) > 1, "demo_count's probe should depend on the seed"
    assert mlp.score == pytest.approx(statistics.mean(alone), abs=1e-12)
    assert mlp.seed_std == pytest.approx(statistics.stdev(alone), abs=1e-12)
    assert mlp.interval[0] <= mlp.score <= mlp.interval[1]  # the interval is the seed mean's
    assert runs["three"].seeds == 3 and runs["three"].to_dict()["seeds"] == 3
    # kNN draws nothing from the seed: trained once, its score is every seed's.
    knn = by_method(runs["three"])["knn"]
    assert knn.seed_scores == [by_method(runs["seed 42"])["knn"].score] * 3 and knn.seed_std == 0


def test_the_seeds_train_on_the_stored_embeddings_and_each_count_is_its_own_cache_entry(
    runs: dict[str, Results],
) -> None:
    three, again, two = (by_method(runs[name])["mlp"] for name in ("three", "again", "two"))
    assert three.details["encoded"] == {}  # nothing encoded again: the one-seed runs stored the embeddings
    assert not three.cached and again.cached and again.seed_scores == three.seed_scores
    assert not two.cached and two.seed_scores == three.seed_scores[:2]


def test_one_seed_keeps_the_result_key_it_had_before_seeds_existed() -> None:
    task = next(t for t in load_tasks("demo") if t.name == TASK)
    keys = {"train": "a", "test": "b"}
    before = digest(PROTOCOL_VERSION, RESULT_LAYOUT, keys, task.fingerprint(), "mlp", 42, {})
    assert result_key(keys, task, "mlp", 42, {}, seeds=1) == before  # existing cache entries stay valid
    assert len({before, result_key(keys, task, "mlp", 42, {}, 2), result_key(keys, task, "mlp", 42, {}, 3)}) == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "--xares-seeds must be at least 1"), (-2, "not -2"), ("two", "--xares-seeds: cannot read 'two'")],
)
def test_fewer_than_one_seed_is_a_usage_error(value: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Settings.with_defaults(seeds=value)


def test_the_plugin_refuses_fewer_than_one_seed_before_any_work(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-suite=demo", "--xares-seeds=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xares-seeds must be at least 1*"])


# --- xares compare pairs the seed means ---------------------------------------------------------


def test_compare_pairs_the_mean_over_seeds_with_a_one_seed_result(
    runs: dict[str, Results], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = by_method(runs["three"])["mlp"]
    folds = paired.clip_scores(three)
    assert folds is not None and len(folds[0].seeds) == 2  # the first seed's arrays and two more
    assert folds[0].rescorer()(np.ones(len(folds[0].keys))) == pytest.approx(three.fold_scores[0], abs=1e-12)
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    runs["seed 42"].to_json(one)
    runs["three"].to_json(many)
    capsys.readouterr()
    assert main(["compare", str(one), str(many)]) == 0
    out = capsys.readouterr().out
    assert "mean of seeds 42–44" in " ".join(out.split())
    row = next(line for line in out.splitlines() if line.startswith(f"| {TASK} "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    first = by_method(runs["seed 42"])["mlp"].score
    assert cells[2:4] == [f"{first:.3f}", f"{three.score:.3f}"]
    assert cells[4].rstrip("*") == f"{three.score - first:+.3f}"
    low, high = (float(x) for x in cells[5].split(" … "))  # paired, not "unpaired"
    assert low <= round(three.score - first, 3) <= high


def test_a_seed_dropped_from_the_per_clip_data_is_refused(runs: dict[str, Results]) -> None:
    three = by_method(runs["three"])["mlp"]
    assert three.per_clip is not None
    fold = dict(three.per_clip[0])
    cut = dataclasses.replace(three, per_clip=[{**fold, "seeds": fold["seeds"][:1]}])
    with pytest.raises(paired.PairingError, match="not the recorded score"):
        paired.clip_scores(cut)
    arrays = fold["seeds"][0]
    short = {name: paired.encode_array(paired.decode_array(a)[:-1]) for name, a in arrays.items()}
    with pytest.raises(paired.PairingError, match="cannot be read"):
        paired.clip_scores(dataclasses.replace(three, per_clip=[{**fold, "seeds": [short, fold["seeds"][1]]}]))


def test_the_size_limit_of_per_clip_data_counts_every_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xares.heads.metrics import map_outcome

    rng = np.random.default_rng(0)
    outcome = map_outcome(rng.random((10, 3)), (rng.random((10, 3)) > 0.5).astype(float))
    keys = [[str(i) for i in range(10)]]
    monkeypatch.setattr(paired, "MAX_VALUES", 40)  # one seed's 30 ranks fit, two seeds' 60 do not
    assert paired.per_clip([outcome], keys) is not None
    assert paired.per_clip([outcome], keys, [[outcome]]) is None


# --- the tables ---------------------------------------------------------------------------------


def fake(task: str, method: str, metric: str, seeds: list[float], **extra: float) -> TaskResult:
    score = statistics.mean(seeds) if seeds else 0.5
    return TaskResult(
        task, method, metric, score, [score], (score - 0.1, score + 0.1), {}, {"total": 1234.5}, 0, "f", "cpu", 42,
        extra=dict(extra), seed_scores=seeds,
    )  # fmt: skip


def test_the_terminal_table_shows_the_spread_only_with_several_seeds_and_fits_120_columns(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-suite=demo", "-k", TASK, "--xares-seeds=3")
    result.assert_outcomes(passed=2)
    table = [line for line in result.stdout.lines if line.startswith("|")]
    assert table and all(len(line) <= 120 for line in table), table
    row = next(line for line in table if line.startswith(f"| {TASK} "))
    mlp, knn = (c.strip() for c in row.strip("|").split("|")[2:4])
    assert mlp.count(" ± ") == 1 and knn == "0.490", row  # kNN does not move with the seed: nothing to show
    result.stdout.fnmatch_lines(["scores are means over 3 seeds (42–44) ± their standard deviation *"])
    averages = {line.split("|")[1].strip(): line for line in table if line.startswith(("| MLP", "| kNN"))}
    assert " ± " in averages["MLP, public and all"] and " ± " not in averages["kNN, public and all"]

    tasks = {t.name: t for t in load_tasks("demo")}
    one = str(Results([fake(TASK, "mlp", "accuracy", [])], tasks))
    assert "±" not in one and "seeds" not in one


def test_the_widest_table_of_the_real_suite_with_seeds_fits_120_columns() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    # What each kind reports beside its score, at its widest (retrieval's two directions go below the table).
    extras = {
        "pearson": {"mse": 12.345},
        "1 - WER": {"wer": 0.276},
        "recall@1": {"audio_to_text": 0.1, "text_to_audio": 0.1},
    }
    results = [
        fake(
            name,
            method,
            task.metric,
            [0.9, 0.8, 0.7, 0.65, 0.6] if method == "mlp" else [0.5] * 5,
            **extras.get(task.metric, {}),
        )
        for name, task in tasks.items()
        for method in task.methods
    ]
    text = str(Results(results, tasks))
    assert text.count("0.730 ± 0.120") == len([r for r in results if r.method == "mlp"]) + 2  # and 2 averages
    wide = [line for line in text.splitlines() if line.startswith("|") and len(line) > 120]
    assert not wide, wide


def test_the_markdown_report_gives_mean_and_std_and_names_the_seeds() -> None:
    tasks = {t.name: t for t in load_tasks("demo")}
    results = Results([fake(TASK, "mlp", "accuracy", [0.6, 0.7, 0.65])], tasks, encoder="my_encoder.py")
    text = results.to_markdown()
    assert "| 0.650 ± 0.050 |" in text
    assert "seeds 42–44 (mean ± std)" in text.splitlines()[2]
    assert "scores are means over 3 seeds (42–44) ± their standard deviation" in text


def test_the_averages_spread_is_that_of_each_seeds_weighted_average() -> None:
    tasks = {t.name: t for t in load_tasks("demo")}  # demo_pitch weighs 200, demo_count 100
    results = Results(
        [fake("demo_pitch", "mlp", "accuracy", [0.8, 0.82, 0.81]), fake(TASK, "mlp", "accuracy", [0.6, 0.7, 0.65])],
        tasks,
    )
    (average,) = [a for a in results.averages() if a.method == "mlp" and a.scope == "public"]
    per_seed = [(200 * p + 100 * c) / 300 for p, c in zip([0.8, 0.82, 0.81], [0.6, 0.7, 0.65])]
    assert average.std == pytest.approx(statistics.stdev(per_seed))


def test_results_of_different_seed_counts_do_not_merge() -> None:
    tasks = {t.name: t for t in load_tasks("demo")}
    one = Results([fake(TASK, "mlp", "accuracy", [])], tasks)
    three = Results([fake("demo_pitch", "mlp", "accuracy", [0.8, 0.82, 0.81])], tasks)
    with pytest.raises(ValueError, match=r"different seeds \(a: 42, b: 42 and the 2 after it\)"):
        Results.merge({"a": one, "b": three})
    broken = {**fake(TASK, "mlp", "accuracy", [0.6, 0.7]).to_dict(), "seed_scores": [0.6, "0.7"]}
    with pytest.raises(ValueError, match="not numbers"):
        TaskResult.from_dict(broken)


# --- baseline tolerances from the measured spread -----------------------------------------------


def write(path: Path, scores: dict) -> Path:
    path.write_text(json.dumps({"scores": scores}))
    return path


def test_an_entry_with_a_spread_gates_at_three_standard_deviations_with_a_floor(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.json",
        {
            "noisy": {"mlp": {"score": 0.7, "std": 0.02, "seeds": 5}},
            "steady": {"mlp": {"score": 0.7, "std": 0.001, "seeds": 5}, "knn": {"score": 0.7, "std": 0.0, "seeds": 5}},
            "hand": {"mlp": {"score": 0.7, "std": 0.02, "seeds": 5, "tolerance": 0.2}},
            "plain": {"mlp": {"score": 0.7}},
        },
    )
    baseline = Baseline.load(path, default_tolerance=0.3)  # --xares-tolerance: only for entries without their own
    noisy = baseline.judge("noisy", "mlp", 0.65)  # a one-seed run against the mean of five seeds
    assert noisy.status == "pass" and noisy.tolerance == pytest.approx(3 * 0.02 * math.sqrt(1 / 5 + 1))
    failed = baseline.judge("noisy", "mlp", 0.63)
    assert failed.status == "regressed"
    assert failed.message("noisy", "mlp", 0.63).endswith(
        "tolerance 0.0657: 3 × the std 0.0200 over 5 seeds × √(1/5 + 1/1))"
    )
    # A run with five seeds of its own is compared mean against mean: the gate is tighter.
    five = Baseline.load(path, seeds=5).judge("noisy", "mlp", 0.65)
    assert five.status == "regressed" and five.tolerance == pytest.approx(3 * 0.02 * math.sqrt(2 / 5))
    for method in ("mlp", "knn"):
        steady = baseline.judge("steady", method, 0.685)
        assert steady.status == "regressed" and steady.tolerance == 0.01 and "the floor 0.01" in str(steady.basis)
    assert baseline.judge("hand", "mlp", 0.55).status == "pass"  # a hand-set tolerance wins
    assert baseline.judge("plain", "mlp", 0.45).tolerance == 0.3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"score": 0.7, "std": -0.01, "seeds": 5}, "noisy mlp has the std -0.01, not a finite number >= 0"),
        ({"score": 0.7, "std": "NaN", "seeds": 5}, "noisy mlp has the std nan"),
        ({"score": 0.7, "std": 0.01}, "noisy mlp has a std over seeds but not the number of seeds"),
        ({"score": 0.7, "std": 0.01, "seeds": 1}, "at least 2"),
    ],
)
def test_a_spread_that_cannot_gate_is_refused_naming_the_entry(tmp_path: Path, entry: dict, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        Baseline.load(write(tmp_path / "b.json", {"noisy": {"mlp": entry}}))


def test_an_n_seed_update_records_the_spread_and_a_one_seed_update_keeps_it(tmp_path: Path) -> None:
    baseline = Baseline(tmp_path / "b.json", 0.05, {"kept": {"mlp": Entry(0.5, 0.2)}, "old": {"mlp": Entry(0.5)}})
    written = baseline.updated({("kept", "mlp"): 0.6, ("old", "mlp"): 0.7}, {("kept", "mlp"): (0.0123456789, 5)})
    assert written["scores"]["kept"]["mlp"] == {"score": 0.6, "tolerance": 0.2, "std": 0.012346, "seeds": 5}
    assert written["scores"]["old"]["mlp"] == {"score": 0.7}
    (tmp_path / "b.json").write_text(json.dumps(written))
    again = Baseline.load(tmp_path / "b.json").updated({("kept", "mlp"): 0.65})  # one seed: no new spread
    assert again["scores"]["kept"]["mlp"] == {"score": 0.65, "tolerance": 0.2, "std": 0.012346, "seeds": 5}


#: The tiny task's encoder made useless: every clip embeds to the same vector plus a tiny ramp.
BROKEN = BANDS_ENCODER.replace(
    "return torch.log(bands + 1e-6) * self.scale",
    "return torch.log(bands + 1e-6) * self.scale * 0 + torch.linspace(0, 1, 16)",
)


def test_update_baseline_from_an_n_seed_run_writes_the_spread_the_gate_then_uses(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    baseline = pytester.path / "gate.json"

    def run(encoder: str, *extra: str) -> pytest.RunResult:
        spec = encoder_file(pytester.path, encoder, f"enc_{abs(hash(encoder)) % 10**6}.py")
        args = (
            f"--xares-encoder={spec}",
            f"--xares-tasks-dir={tiny_task}",
            "-k",
            "tiny",
            f"--xares-baseline={baseline}",
        )
        return pytester.runpytest(*args, "-p", "no:cacheprovider", *extra)

    run(BANDS_ENCODER, "--xares-seeds=3", "--xares-update-baseline").assert_outcomes(passed=2)
    entries = json.loads(baseline.read_text())["scores"]["tiny"]
    assert {m: (e["seeds"], math.isfinite(e["std"])) for m, e in entries.items()} == {
        "mlp": (3, True),
        "knn": (3, True),
    }
    assert entries["knn"]["std"] == 0.0
    run(BANDS_ENCODER).assert_outcomes(passed=2)  # one seed against the three seeds' mean: within tolerance
    regressed = run(BROKEN)
    regressed.assert_outcomes(failed=2)
    regressed.stdout.fnmatch_lines(
        ["*tiny knn fell from the baseline * (difference *, tolerance 0.0100: the floor 0.01*"]
    )
