"""The Python API runs the plugin's engine: same checks, same scores."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_checks import DEFECTS

import pytest_xares
from pytest_xares.testing import BANDS_ENCODER, encoder_file


def load_class(path: Path) -> type:
    spec = importlib.util.spec_from_file_location(f"api_test_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BandsEncoder


def test_check_encoder_passes_a_correct_encoder(tmp_path: Path) -> None:
    report = pytest_xares.check_encoder(load_class(encoder_file(tmp_path, BANDS_ENCODER))())
    assert report and report.failed == []
    assert "all checks passed" in str(report) and "batch_consistency" in repr(report)


def test_check_encoder_reports_what_to_fix(tmp_path: Path) -> None:
    broken = load_class(encoder_file(tmp_path, DEFECTS["double_hop"][2]))
    report = pytest_xares.check_encoder(broken)
    assert not report
    assert report.failed == ["hop_size"]
    assert report.checks["long_input"].outcome == "skipped"
    assert "the frames are 10.0 ms apart" in str(report)
    with pytest.raises(pytest_xares.EncoderCheckError, match="hop_size") as raised:
        pytest_xares.check_encoder(broken, raise_on_failure=True)
    assert raised.value.report.failed == ["hop_size"]


def test_evaluate_refuses_an_encoder_that_fails_a_gating_check(tmp_path: Path, tiny_task: Path) -> None:
    from pytest_xares.encoder import EncoderError

    broken = load_class(encoder_file(tmp_path, DEFECTS["nans"][2]))
    with pytest.raises(EncoderError, match="finite_float"):
        pytest_xares.evaluate(broken, tasks=["demo_pitch"])


def test_unknown_task_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known tasks: .*esc50"):
        pytest_xares.evaluate("pytest_xares.example_encoders.mel", tasks=["esc5O"])


def test_api_and_plugin_give_identical_scores_for_a_users_own_task(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = encoder_file(tmp_path, BANDS_ENCODER)
    out = tmp_path / "plugin.json"
    pytester.runpytest(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", f"--xares-json={out}"
    ).assert_outcomes(passed=2)
    plugin = {(r["task"], r["method"]): r["score"] for r in json.loads(out.read_text())["results"]}

    from pytest_xares.task.registry import _import_file

    task = _import_file(tiny_task / "tiny.py").TASK  # the user's own definition object
    results = pytest_xares.evaluate(str(spec), tasks=[task], cache_dir=tmp_path / "api-cache", progress=False)
    assert {(r.task, r.method): r.score for r in results.results} == plugin
    assert not any(r.cached for r in results.results)  # computed afresh, not read from the plugin's cache
    document = json.loads(results.to_json(tmp_path / "api.json"))
    assert document == json.loads((tmp_path / "api.json").read_text())
    assert {(r["task"], r["method"]) for r in document["results"]} == set(plugin)
    assert "| tiny " in results.to_markdown() and "| tiny " in str(results)
    assert results.score("tiny", "knn") == plugin["tiny", "knn"]
    with pytest.raises(KeyError):
        results.score("esc50")
