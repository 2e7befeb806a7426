"""Scores do not depend on -n, and a task's audio is encoded once across workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xares.testing import BANDS_ENCODER, encoder_file


def scores(path: Path) -> dict[tuple[str, str], float]:
    return {(r["task"], r["method"]): r["score"] for r in json.loads(path.read_text())["results"]}


def test_scores_are_the_same_with_and_without_xdist_and_each_split_is_encoded_once(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-p", "no:cacheprovider"]
    single, parallel = pytester.path / "single.json", pytester.path / "parallel.json"
    pytester.runpytest_subprocess(*args, f"--xares-json={single}").assert_outcomes(passed=2)

    monkeypatch.setenv("XARES_CACHE_DIR", str(pytester.path / "fresh-cache"))
    # --dist load spreads the two items of the task over both workers: they must share one encoding.
    result = pytester.runpytest_subprocess(*args, "-n", "2", "--dist", "load", f"--xares-json={parallel}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*X-ARES scores*", "| tiny *"])
    assert scores(single) == pytest.approx(scores(parallel), abs=1e-6)

    results = json.loads(parallel.read_text())["results"]
    encoded = [pattern for r in results for pattern in r["details"]["encoded"]]
    assert sorted(encoded) == ["tiny_test*.tar", "tiny_train*.tar", "tiny_valid*.tar"]


def test_each_worker_takes_its_share_of_the_cores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, torch
        def test_threads(): assert torch.get_num_threads() == max(1, os.cpu_count() // 2)
        def test_other(): pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--xares-encoder=pytest_xares.example_encoders.mel", "-n", "2", "-k", "threads or other", "."
    )
    result.assert_outcomes(passed=2)
