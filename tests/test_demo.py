"""The offline quickstart: the demo suite end to end, warm, and under xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import MEL

DEMO = [f"--xares-encoder={MEL}", "--xares-suite=demo", "-p", "no:cacheprovider"]


def scores(path: Path) -> dict[tuple[str, str], float]:
    return {(r["task"], r["method"]): r["score"] for r in json.loads(path.read_text())["results"]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """One cold run of the demo suite in a subprocess; later tests reuse its data and cache."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo")
    env = {**__import__("os").environ, "XARES_DATA_DIR": str(root / "data"), "XARES_CACHE_DIR": str(root / "cache")}
    out = root / "cold.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *DEMO, f"--xares-json={out}", "-q"], cwd=root, env=env, capture_output=True, text=True
    )
    (root / "cold.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-3000:]
    return root, out, root / "cold.txt"


def test_the_demo_suite_learns_but_is_not_trivial(first_run: tuple[Path, Path, Path]) -> None:
    root, out, log = first_run
    from pytest_xares.registry import load_tasks

    tasks = {t.name: t for t in load_tasks("demo")}
    got = scores(out)
    assert {task for task, _ in got} == set(tasks) and len(tasks) >= 3
    for (task, method), score in got.items():
        chance = 1 / tasks[task].num_classes
        assert 2 * chance < score < 1.0, (task, method, score)
    text = log.read_text()
    assert "X-ARES scores" in text and "weighted average" in text and "MLP, public" in text
    for name in tasks:
        assert f"| {name}" in text


def test_the_demo_layouts_cover_k_fold_splits_and_crops() -> None:
    from pytest_xares.registry import load_tasks
    from pytest_xares.task import KFold, TrainValidTest

    tasks = load_tasks("demo")
    assert any(isinstance(t.splits, KFold) for t in tasks)
    assert any(isinstance(t.splits, TrainValidTest) for t in tasks)
    assert any(t.crop_seconds for t in tasks)


def test_a_warm_rerun_is_served_from_the_cache(first_run: tuple[Path, Path, Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cold, _ = first_run
    monkeypatch.setenv("XARES_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(root / "cache"))
    warm = pytester.path / "warm.json"
    result = pytester.runpytest(*DEMO, f"--xares-json={warm}")
    result.assert_outcomes(passed=len(scores(cold)) + 10)
    assert scores(warm) == scores(cold)
    assert all(r["cached"] for r in json.loads(warm.read_text())["results"])
    result.stdout.fnmatch_lines(["| demo_pitch *| cached *|"])


def test_xdist_gives_the_same_scores_from_a_fresh_cache(first_run: tuple[Path, Path, Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cold, _ = first_run
    monkeypatch.setenv("XARES_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(pytester.path / "fresh-cache"))
    parallel = pytester.path / "parallel.json"
    result = pytester.runpytest_subprocess(*DEMO, "-n", "2", f"--xares-json={parallel}")
    result.assert_outcomes(passed=len(scores(cold)) + 10)
    result.stdout.fnmatch_lines(["*X-ARES scores*"])
    assert scores(parallel) == pytest.approx(scores(cold), abs=1e-6)
    assert not any(r["cached"] for r in json.loads(parallel.read_text())["results"])


def test_demo_synthesis_is_deterministic(tmp_path: Path) -> None:
    from pytest_xares.data.records import record_checksums
    from pytest_xares.engine import prepare_data
    from pytest_xares.registry import load_tasks

    for task in load_tasks("demo"):
        prepare_data(task, tmp_path / "a")
        prepare_data(task, tmp_path / "b")
        first, second = record_checksums(tmp_path / "a" / task.name), record_checksums(tmp_path / "b" / task.name)
        assert first and first == second


def test_demo_data_of_another_synthesiser_version_is_replaced(tmp_path: Path) -> None:
    from dataclasses import replace

    from pytest_xares.engine import prepare_data
    from pytest_xares.registry import load_tasks

    task = next(t for t in load_tasks("demo") if t.name == "demo_texture")
    first = prepare_data(task, tmp_path)
    shard = first[task.splits.train][0]
    stamp = shard.stat().st_mtime_ns
    assert prepare_data(task, tmp_path) == first and shard.stat().st_mtime_ns == stamp  # reused as it is
    changed = replace(task, epochs=task.epochs + 1)  # another definition: another version of its data
    prepare_data(changed, tmp_path)
    assert shard.exists() and shard.stat().st_mtime_ns != stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo_texture.") and not p.name.endswith(".lock")]
