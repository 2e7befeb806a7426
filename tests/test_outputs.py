"""The end of a run: every output, built in or a conftest's, gets the results; one that fails
says so in the summary and never stops the others."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_the_terminal_table_fits_120_columns_and_leaves_out_what_is_empty(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--xares-suite=demo", "-k", "demo_pitch or demo_captions")
    result.assert_outcomes(passed=3)
    table = [line for line in result.stdout.lines if line.startswith("|")]
    assert table and all(len(line) <= 120 for line in table), table
    # The demo tasks have no published scores: those columns (and the † note) would hold only dashes.
    assert [c.strip() for c in table[0].strip("|").split("|")] == ["task", "metric", "MLP", "kNN", "seconds"]
    assert not any("†" in line for line in result.stdout.lines)
    # Retrieval's two directions would widen the metric column: they follow the table.
    result.stdout.fnmatch_lines(["| demo_captions *| recall@1 *|*", "demo_captions recall@1: audio_to_text *"])
    # Every demo task is public: one row says the average over the public tasks and over all of them.
    averages = [line for line in table if line.startswith(("| MLP", "| kNN"))]
    assert [line.split("|")[1].strip() for line in averages] == ["MLP, public and all", "kNN, public and all"]


def test_times_share_one_unit_per_column() -> None:
    from pytest_xares.results.scores import Results, TaskResult
    from pytest_xares.results.table import scores_table
    from pytest_xares.task.registry import load_tasks

    tasks = {t.name: t for t in load_tasks("demo")}

    def took(task: str, seconds: float) -> TaskResult:
        return TaskResult(task, "mlp", "accuracy", 0.5, [0.5], (0.4, 0.6), {}, {"total": seconds}, 0, "f", "cpu", 42)

    table = scores_table(Results([took("demo_pitch", 30.0), took("demo_count", 900.0)], tasks))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    assert rows[0][-1] == "minutes" and {r[0]: r[-1] for r in rows[2:]} == {"demo_count": "15.0", "demo_pitch": "0.5"}


def test_junit_properties_are_json(pytester: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(*DEMO_PITCH[:2], "-k", "demo_pitch or loads", f"--junitxml={junit}")
    result.assert_outcomes(passed=3)
    properties = {
        (case.get("name"), p.get("name")): p.get("value")
        for case in ET.parse(junit).getroot().iter("testcase")
        for p in case.iter("property")
    }
    whole = json.loads(properties["mlp", "xares"])
    assert whole["task"] == "demo_pitch" and whole["cached"] is False and isinstance(whole["seconds"], dict)
    assert "per_clip" not in whole  # the results file keeps it; a junit file need not carry megabytes
    assert json.loads(properties["loads", "xares_check"]) == {"check": "loads", "outcome": "passed", "seconds": 0.0}
    assert properties["mlp", "xares_metric"] == "accuracy"  # text stays text
    assert json.loads(properties["knn", "xares_score"]) == pytest.approx(0.777, abs=0.01)


def test_the_markdown_report_says_what_ran_and_the_terminal_where_it_went(pytester: pytest.Pytester) -> None:
    report = pytester.path / "report.md"
    result = pytester.runpytest(*DEMO_PITCH, f"--xares-markdown={report}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"Markdown report written to {report}"])
    text = report.read_text()
    assert text.startswith(f"### X-ARES scores: {MEL}\n")
    about = text.splitlines()[2]
    assert about.startswith(f"Suite `demo`; encoder `{MEL}`; seed 42; pytest-xares "), about
    assert "protocol " in about and "torch " in about


def test_help_shows_each_options_default_and_environment_variable(pytester: pytest.Pytester) -> None:
    text = " ".join(" ".join(pytester.runpytest("--help").stdout.lines).split())  # help wraps its lines
    assert "seed of every probe [default: 42; env XARES_SEED]" in text
    assert "[default: off; env XARES_OFFLINE]" in text
    assert "side by side [env XARES_ENCODER]" in text  # no default, still its variable


def test_the_plot_puts_knn_beside_mlp_names_metrics_draws_the_baseline_and_keeps_the_legend_clear(
    tmp_path: Path,
) -> None:
    pytest.importorskip("matplotlib")
    from pytest_xares.outputs.plot import figure
    from pytest_xares.results.baseline import Baseline, Entry
    from pytest_xares.results.scores import Results, TaskResult
    from pytest_xares.task.registry import load_tasks

    tasks = {t.name: t for t in load_tasks("xares")}
    runs = [("esc50", "mlp", 0.8), ("esc50", "knn", 0.6), ("fsd50k", "mlp", 0.4)]
    results = Results(
        [
            TaskResult(t, m, tasks[t].metric, s, [s], (s - 0.05, s + 0.05), {}, {"total": 1.0}, 0, "f", "cpu", 42)
            for t, m, s in runs
        ],
        tasks,
        encoder="my_encoder.py",
    )
    baseline = Baseline(tmp_path / "gate.json", 0.05, {"esc50": {"mlp": Entry(0.75), "knn": Entry(0.55)}})
    drawn = figure(results, baseline)
    (axes,) = drawn.axes
    assert axes.get_title() == "X-ARES scores: my_encoder.py"
    assert [t.get_text() for t in axes.get_yticklabels()] == ["ESC-50\naccuracy", "FSD50k\nmAP"]
    bars = {c.get_label(): c for c in axes.containers if not c.get_label().startswith("_")}  # not the whiskers
    assert set(bars) == {"my_encoder.py: MLP", "my_encoder.py: kNN"}
    mlp, knn = (list(bars[f"my_encoder.py: {m}"]) for m in ("MLP", "kNN"))
    assert abs(mlp[0].get_y() - knn[0].get_y()) < 0.5  # both of esc50's bars in its row, one above the other
    (legend,) = drawn.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "baseline file (gate.json)" in labels and "dasheng MLP (published)" in labels
    marks = next(c for c in axes.collections if c.get_label() == "baseline file (gate.json)")
    assert sorted(x for x, _ in marks.get_offsets()) == [0.55, 0.75]
    drawn.canvas.draw()
    box, frame = legend.get_window_extent(), axes.get_window_extent()
    assert box.y1 <= frame.y0, "the legend overlaps the axes"


def test_the_title_names_the_run_by_its_name_and_labels() -> None:
    from pytest_xares.results.scores import Results
    from pytest_xares.results.table import title

    assert title(Results([], {}, encoder="my_encoder.py")) == "X-ARES scores: my_encoder.py"
    labelled = Results([], {}, encoder="my_encoder.py", name="ckpt-1000", meta={"step": "1000", "commit": "3ba4d8e"})
    assert title(labelled) == "X-ARES scores: ckpt-1000 (step=1000, commit=3ba4d8e)"
