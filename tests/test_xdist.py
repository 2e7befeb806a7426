"""Scores do not depend on -n, and a task's audio is encoded once across workers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_xares.testing import BANDS_ENCODER, CRASHING_ENCODER, encoder_file


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


def workers_of(output: list[str]) -> dict[str, str]:
    """``{item id: worker}`` from ``-v`` lines such as ``[gw1] [ 50%] PASSED xares::demo_count::mlp``."""
    found = {}
    for line in output:
        parts = line.split()
        if len(parts) >= 4 and parts[0].startswith("[gw") and parts[-2] in ("PASSED", "FAILED", "SKIPPED"):
            found[parts[-1]] = parts[0].strip("[]")
    return found


def test_with_n_and_no_dist_choice_both_methods_of_a_task_run_on_one_worker(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Two items on two workers: xdist's plain load balancing sends one to each.
    result = pytester.runpytest_subprocess(
        "--xares-encoder=pytest_xares.example_encoders.mel", "--xares-suite=demo", "-k", "demo_count",
        f"--xares-data-dir={tmp_path / 'data'}", f"--xares-cache-dir={tmp_path / 'cache'}",
        "-n", "2", "-v", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    workers = workers_of(result.outlines)
    assert set(workers) == {"xares::demo_count::mlp", "xares::demo_count::knn"}, result.outlines
    assert len(set(workers.values())) == 1, workers


#: The bands encoder, taking 0.2 s per batch of a task (not of the encoder checks).
SLOW = BANDS_ENCODER.replace(
    "    def forward(self, audio):\n",
    "    def forward(self, audio):\n"
    "        import os, time\n"
    "        if 'tiny::' in os.environ.get('PYTEST_CURRENT_TEST', ''):\n"
    "            time.sleep(0.2)\n",
)


def test_an_item_waiting_for_another_workers_encoding_reports_the_wait_not_encode_time(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    assert SLOW != BANDS_ENCODER
    spec = encoder_file(pytester.path, SLOW)
    out = pytester.path / "results.json"
    # --dist load: the two items start together on two workers; one encodes, the other waits.
    pytester.runpytest_subprocess(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", f"--xares-json={out}",
        "-n", "2", "--dist", "load", "-p", "no:cacheprovider",
    ).assert_outcomes(passed=2)  # fmt: skip
    results = json.loads(out.read_text())["results"]
    for r in results:
        forward = sum(split["forward_s"] for split in r["details"]["encoded"].values())
        assert r["seconds"]["encode"] >= forward  # what it encoded, nothing less
        if not r["details"]["encoded"]:
            assert r["seconds"]["encode"] == 0, r["seconds"]
    waited = max(results, key=lambda r: r["seconds"]["wait"])
    assert waited["seconds"]["wait"] >= 0.2, [r["seconds"] for r in results]  # at least one batch of the other's
    assert waited["seconds"]["encode"] < waited["seconds"]["wait"]


def test_a_crashed_worker_under_the_plugins_scheduling_fails_its_items_once_and_the_run_goes_on(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    # xdist 3.8's grouping schedulers (loadgroup, loadscope) start a crashing item again on every
    # replacement worker, or hang; the plugin's default keeps load balancing's crash handling.
    (tiny_task / "tiny2.py").write_text((tiny_task / "tiny.py").read_text().replace('name="tiny"', 'name="tiny2"'))
    data = tiny_task.parent / "xares-data"
    shutil.copytree(data / "tiny", data / "tiny2")
    spec = encoder_file(pytester.path, CRASHING_ENCODER)
    result = pytester.runpytest_subprocess(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-n", "2", "-v",
        "-p", "no:cacheprovider", timeout=120,
    )  # fmt: skip
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'xares::tiny2::mlp'*"])
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'xares::tiny2::knn'*"])
