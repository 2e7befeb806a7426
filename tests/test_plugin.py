"""Black-box scenarios: pytest runs with the plugin, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xares.testing import BANDS_ENCODER, MEL, encoder_file


def test_plugin_is_inert_without_an_encoder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ordinary(): pass")
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*xares::*")
    result.stdout.no_fnmatch_line("*X-ARES scores*")


def test_no_path_arguments_run_the_suite_only(pytester: pytest.Pytester, tiny_task: Path) -> None:
    pytester.makepyfile("def test_ordinary(): raise AssertionError('must not be collected')")
    result = pytester.runpytest(f"--xares-encoder={MEL}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "--co", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["xares::tiny::mlp", "xares::tiny::knn"])
    result.stdout.no_fnmatch_line("*test_ordinary*")


def test_path_arguments_are_collected_beside_the_suite(pytester: pytest.Pytester, tiny_task: Path) -> None:
    test_file = pytester.makepyfile("def test_gate(): pass")
    result = pytester.runpytest(
        f"--xares-encoder={MEL}", f"--xares-tasks-dir={tiny_task}", str(test_file), "--co", "-q"
    )
    result.stdout.fnmatch_lines(["xares::encoder::loads", "*test_gate*"])


def test_collection_lists_checks_and_task_methods_without_building_the_encoder(pytester: pytest.Pytester) -> None:
    spec = encoder_file(pytester.path, "raise RuntimeError('imported at collection')\n")
    result = pytester.runpytest(f"--xares-encoder={spec}", "--co", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["xares::encoder::hop_size", "xares::esc50::mlp", "xares::esc50::knn", "xares::fsdkaggle2018::mlp"]
    )
    result.stdout.no_fnmatch_line("xares::fsdkaggle2018::knn")  # the table says no kNN


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (["-k", "esc50"], {"xares::esc50::mlp", "xares::esc50::knn"}),
        (["-k", "esc50 and knn"], {"xares::esc50::knn"}),
        (["-m", "knn", "-k", "cremad or esc50"], {"xares::esc50::knn", "xares::cremad::knn"}),
        (["-m", "xares_check", "-k", "hop"], {"xares::encoder::hop_size"}),
    ],
)
def test_selection_with_k_and_m(pytester: pytest.Pytester, selection: list[str], expected: set[str]) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--co", "-q", *selection)
    assert {line for line in result.stdout.lines if line.startswith("xares::")} == expected


def test_every_suite_item_carries_the_xares_marker(pytester: pytest.Pytester) -> None:
    everything = pytester.runpytest(f"--xares-encoder={MEL}", "--co", "-q")
    marked = pytester.runpytest(f"--xares-encoder={MEL}", "--co", "-q", "-m", "xares")
    assert [line for line in everything.stdout.lines if line.startswith("xares::")] == [
        line for line in marked.stdout.lines if line.startswith("xares::")
    ]


def test_a_task_without_data_is_skipped_with_where_to_put_it(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "-k", "esc50 and mlp", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*{tmp_path / 'xares-data' / 'esc50'}*Zenodo record 14614287*"])


def test_a_user_task_runs_and_the_table_and_json_report_it(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    out = pytester.path / "results.json"
    result = pytester.runpytest(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", f"--xares-json={out}"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*X-ARES scores*", "| task *| metric *| MLP *| kNN *", "| tiny *| accuracy *|*", "*weighted average*"]
    )
    document = json.loads(out.read_text())
    assert {r["method"] for r in document["results"]} == {"mlp", "knn"}
    for r in document["results"]:
        assert r["task"] == "tiny" and 0.0 <= r["score"] <= 1.0 and r["samples"]["test"] == 24
        assert set(r["seconds"]) == {"data", "encode", "wait", "probe", "total"} and r["bytes_stored"] > 0
        assert r["encoder_fingerprint"] == document["encoder_fingerprint"]
    assert document["protocol"] and document["torch"] and document["seed"] == 42
    assert document["encoder"] == str(spec)
    knn = next(r for r in document["results"] if r["method"] == "knn")
    assert knn["score"] > 0.9  # three well separated pitches


def test_second_run_reuses_cached_embeddings_scores_and_checks(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    out = pytester.path / "results.json"
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", f"--xares-json={out}"]
    pytester.runpytest(*args, "-k", "tiny or encoder").assert_outcomes(passed=12)
    first = json.loads(out.read_text())["results"]
    second_run = pytester.runpytest(*args, "-k", "tiny or encoder")
    second_run.assert_outcomes(passed=12)
    second = json.loads(out.read_text())["results"]
    assert [r["score"] for r in first] == [r["score"] for r in second]
    assert all(r["cached"] for r in second) and not any(r["cached"] for r in first)
    second_run.stdout.fnmatch_lines(["| tiny *| cached *|"])


def test_a_changed_encoder_is_never_served_stale_results(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    out = pytester.path / "results.json"
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", f"--xares-json={out}", "-k", "tiny"]
    pytester.runpytest(*args).assert_outcomes(passed=2)
    first = json.loads(out.read_text())
    # New weights under the same class name (X-ARES would reuse the old embeddings here).
    encoder_file(pytester.path, BANDS_ENCODER.replace("torch.ones(16)", "torch.linspace(0.5, 2.0, 16)"))
    pytester.runpytest(*args).assert_outcomes(passed=2)
    second = json.loads(out.read_text())
    assert first["encoder_fingerprint"] != second["encoder_fingerprint"]
    assert not any(r["cached"] for r in second["results"])


def test_options_come_from_ini_and_environment_and_the_command_line_wins(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(f"[pytest]\nxares_encoder = {MEL}\nxares_tasks_dir = {tiny_task}\n")
    result = pytester.runpytest("--co", "-q", "-k", "tiny")
    result.stdout.fnmatch_lines(["xares::tiny::mlp"])
    monkeypatch.setenv("XARES_SUITE", "demo")
    result = pytester.runpytest("--co", "-q", "-k", "demo_pitch")
    result.stdout.fnmatch_lines(["xares::demo_pitch::mlp"])
    result = pytester.runpytest("--co", "-q", "--xares-suite=xares", "-k", "demo_pitch")
    assert not [line for line in result.stdout.lines if line.startswith("xares::demo")]


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-suite=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xares-suite must be 'xares' or 'demo'*"])
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-seed=forty")
    result.stderr.fnmatch_lines(["*--xares-seed: cannot read 'forty'*"])


@pytest.mark.parametrize("form", ["file", "file:Class", "module:Class"])
def test_encoder_spec_forms(
    pytester: pytest.Pytester, tiny_task: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encoder_file(pytester.path, BANDS_ENCODER, name="bands_mod.py")
    monkeypatch.syspath_prepend(pytester.path)
    spec = {
        "file": "bands_mod.py",
        "file:Class": "bands_mod.py:BandsEncoder",
        "module:Class": "bands_mod:BandsEncoder",
    }[form]
    result = pytester.runpytest(f"--xares-encoder={spec}", "-k", "loads or output_shape")
    result.assert_outcomes(passed=2)
    assert path.exists()
