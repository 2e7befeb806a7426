"""The end of a run: every output, built in or a conftest's, gets the results; one that fails
says so in the summary and never stops the others."""

from __future__ import annotations

import json

import pytest

from pytest_xares.testing import MEL

DEMO_PITCH = (f"--xares-encoder={MEL}", "--xares-suite=demo", "-k", "demo_pitch", "-p", "no:cacheprovider")

#: A user's own output: the run's task names to a file, and a line for the summary.
MY_OUTPUT = """
from pathlib import Path

from pytest_xares.results.scores import Results


def pytest_xares_results(config, results):
    assert isinstance(results, Results), type(results)
    assert config.getoption("xares_suite") == "demo"
    names = sorted({{r.task for r in results.results}})
    Path({path!r}).write_text("\\n".join(names) + "\\n")
    return f"my output: {{len(results.results)}} scores of {{', '.join(names)}}"
"""


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """On GitHub Actions the Markdown report would also go to the job's summary."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_a_conftest_output_gets_the_results_beside_the_built_in_ones(pytester: pytest.Pytester) -> None:
    seen = pytester.path / "seen.txt"
    out = pytester.path / "results.json"
    pytester.makeconftest(MY_OUTPUT.format(path=str(seen)))
    result = pytester.runpytest(*DEMO_PITCH, f"--xares-json={out}")
    result.assert_outcomes(passed=2)
    assert seen.read_text() == "demo_pitch\n"
    result.stdout.fnmatch_lines(["*X-ARES scores*", "| demo_pitch *|*", "my output: 2 scores of demo_pitch"])
    result.stdout.fnmatch_lines([f"results written to {out}"])
    document = json.loads(out.read_text())
    assert {(r["task"], r["method"]) for r in document["results"]} == {("demo_pitch", "mlp"), ("demo_pitch", "knn")}


def test_an_output_that_fails_does_not_stop_the_others(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = pytester.mkdir("a-folder")  # the job summary a Markdown report is appended to, wrongly a folder
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(folder))
    out = pytester.path / "results.json"
    result = pytester.runpytest(*DEMO_PITCH, f"--xares-json={out}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["Markdown report not written: *"])
    result.stdout.fnmatch_lines([f"results written to {out}"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert {r["task"] for r in json.loads(out.read_text())["results"]} == {"demo_pitch"}
    assert folder.is_dir() and not any(folder.iterdir())  # nothing half-written left inside
