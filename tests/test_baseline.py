"""Score gates in CI: the baseline lifecycle, tolerances, reports people read, merging runs."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_xares.outputs.merge import main as merge_main
from pytest_xares.results.baseline import DEFAULT_TOLERANCE, Baseline, BaselineError, update_baseline
from pytest_xares.testing import BANDS_ENCODER, encoder_file

#: The same encoder made useless: every clip embeds to the same vector plus a tiny ramp.
BROKEN = BANDS_ENCODER.replace(
    "return torch.log(bands + 1e-6) * self.scale",
    "return torch.log(bands + 1e-6) * self.scale * 0 + torch.linspace(0, 1, 16)",
)


def run(
    pytester: pytest.Pytester, encoder: str, tiny_task: Path, *extra: str, subprocess: bool = False
) -> pytest.RunResult:
    spec = encoder_file(pytester.path, encoder)
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-p", "no:cacheprovider", *extra]
    return pytester.runpytest_subprocess(*args) if subprocess else pytester.runpytest(*args)


def test_the_gate_holds_under_xdist(pytester: pytest.Pytester, tiny_task: Path) -> None:
    """The workers' scores reach the controller, which writes the baseline and gates against it."""
    baseline = pytester.path / "xares-baseline.json"
    gate = (f"--xares-baseline={baseline}", "-n", "2")
    run(pytester, BANDS_ENCODER, tiny_task, *gate, "--xares-update-baseline", subprocess=True).assert_outcomes(passed=2)
    assert set(json.loads(baseline.read_text())["scores"]["tiny"]) == {"mlp", "knn"}
    regressed = run(pytester, BROKEN, tiny_task, *gate, subprocess=True)
    regressed.assert_outcomes(failed=2)
    regressed.stdout.fnmatch_lines(["*tiny knn fell from the baseline*", "*X-ARES scores*"])


def test_baseline_lifecycle(pytester: pytest.Pytester, tiny_task: Path) -> None:
    baseline = pytester.path / "xares-baseline.json"
    gate = (f"--xares-baseline={baseline}",)

    first = run(pytester, BANDS_ENCODER, tiny_task, *gate)
    assert first.ret == pytest.ExitCode.USAGE_ERROR  # no baseline file yet: a gate that cannot gate
    first.stderr.fnmatch_lines(["*does not exist*--xares-update-baseline*"])
    assert not baseline.exists()

    run(pytester, BANDS_ENCODER, tiny_task, *gate, "--xares-update-baseline").assert_outcomes(passed=2)
    entries = json.loads(baseline.read_text())["scores"]["tiny"]
    assert set(entries) == {"mlp", "knn"}

    run(pytester, BANDS_ENCODER, tiny_task, *gate).assert_outcomes(passed=2)

    regressed = run(pytester, BROKEN, tiny_task, *gate)
    regressed.assert_outcomes(failed=2)
    regressed.stdout.fnmatch_lines(
        [
            f"*tiny knn fell from the baseline {entries['knn']['score']:.4f} to 0.3333 (difference *, tolerance {DEFAULT_TOLERANCE:.4f})*"
        ]
    )
    regressed.stdout.fnmatch_lines(["*X-ARES scores*", "| tiny *"])  # the table still shows the scores

    run(pytester, BROKEN, tiny_task, *gate, "--xares-update-baseline").assert_outcomes(passed=2)
    run(pytester, BROKEN, tiny_task, *gate).assert_outcomes(passed=2)
    assert json.loads(baseline.read_text())["scores"]["tiny"]["knn"]["score"] == pytest.approx(1 / 3, abs=1e-4)


def test_update_merges_and_keeps_hand_set_tolerances(pytester: pytest.Pytester, tiny_task: Path) -> None:
    baseline = pytester.path / "b.json"
    baseline.write_text(
        json.dumps({"scores": {"esc50": {"mlp": {"score": 0.8}}, "tiny": {"mlp": {"score": 0.1, "tolerance": 0.2}}}})
    )
    run(pytester, BANDS_ENCODER, tiny_task, f"--xares-baseline={baseline}", "--xares-update-baseline").assert_outcomes(
        passed=2
    )
    scores = json.loads(baseline.read_text())["scores"]
    assert scores["esc50"] == {"mlp": {"score": 0.8}}  # a -k run keeps the other entries
    assert scores["tiny"]["mlp"]["tolerance"] == 0.2 and scores["tiny"]["mlp"]["score"] > 0.1
    assert "knn" in scores["tiny"]


def test_a_large_improvement_is_flagged_for_refresh(pytester: pytest.Pytester, tiny_task: Path) -> None:
    baseline = pytester.path / "b.json"
    baseline.write_text(json.dumps({"scores": {"tiny": {"knn": {"score": 0.3}}}}))
    result = run(pytester, BANDS_ENCODER, tiny_task, f"--xares-baseline={baseline}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*improved well beyond tolerance: refresh the baseline*", "  tiny::knn: 0.3000 → 1.0000 *"]
    )


def test_a_malformed_baseline_is_a_usage_error(pytester: pytest.Pytester, tiny_task: Path) -> None:
    baseline = pytester.path / "b.json"
    baseline.write_text('{"scores": {"tiny": {"mlp": {"score": "high"}}}}')
    result = run(pytester, BANDS_ENCODER, tiny_task, f"--xares-baseline={baseline}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline file * is malformed*"])


def test_update_without_a_baseline_path_is_a_usage_error(pytester: pytest.Pytester, tiny_task: Path) -> None:
    result = run(pytester, BANDS_ENCODER, tiny_task, "--xares-update-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def baseline(tmp_path: Path, document: dict, tolerance: float | None = None) -> Baseline:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document))
    return Baseline.load(path, tolerance)


@pytest.mark.parametrize(
    ("score", "status"),
    [(0.80, "pass"), (0.77, "pass"), (0.7699, "regressed"), (0.86, "pass"), (0.8601, "improved")],
)
def test_tolerance_edges(tmp_path: Path, score: float, status: str) -> None:
    b = baseline(tmp_path, {"tolerance": 0.03, "scores": {"t": {"mlp": {"score": 0.8}}}})
    assert b.judge("t", "mlp", score).status == status


def test_entry_tolerance_wins_and_the_option_overrides_the_file(tmp_path: Path) -> None:
    document = {"tolerance": 0.03, "scores": {"t": {"mlp": {"score": 0.8, "tolerance": 0.001}, "knn": {"score": 0.5}}}}
    assert baseline(tmp_path, document).judge("t", "mlp", 0.798).status == "regressed"
    assert baseline(tmp_path, document).judge("t", "knn", 0.48).status == "pass"
    assert baseline(tmp_path, document, tolerance=0.01).judge("t", "knn", 0.48).status == "regressed"
    assert baseline(tmp_path, {"scores": {}}).tolerance == DEFAULT_TOLERANCE


def test_lower_is_better_metrics(tmp_path: Path) -> None:
    b = baseline(tmp_path, {"scores": {"t": {"mlp": {"score": 1.0, "tolerance": 0.1}}}})
    assert b.judge("t", "mlp", 1.2, higher_is_better=False).status == "regressed"
    assert b.judge("t", "mlp", 0.95, higher_is_better=False).status == "pass"
    assert b.judge("t", "mlp", 1.2, higher_is_better=True).status == "pass"


def test_missing_entries_and_bad_files(tmp_path: Path) -> None:
    b = baseline(tmp_path, {"scores": {"t": {"mlp": {"score": 0.8}}}})
    assert b.judge("t", "knn", 0.1).status == "missing"
    assert b.judge("other", "mlp", 0.1).status == "missing"
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BaselineError, match="not valid JSON"):
        Baseline.load(tmp_path / "bad.json")
    assert Baseline.load(tmp_path / "absent.json", missing_ok=True).entries == {}


def test_update_baseline_writes_a_file_that_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    update_baseline(path, {("t", "mlp"): 0.81234567}, default_tolerance=0.02)
    b = Baseline.load(path)
    assert b.entries["t"]["mlp"].score == 0.812346 and b.tolerance == 0.02


def markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines]


def test_reports_markdown_junit_step_summary_and_plot(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    baseline_file = pytester.path / "b.json"
    baseline_file.write_text(json.dumps({"scores": {"tiny": {"knn": {"score": 0.99}}}}))
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    md, junit, png = pytester.path / "report.md", pytester.path / "junit.xml", pytester.path / "scores.png"
    run(
        pytester,
        BANDS_ENCODER,
        tiny_task,
        f"--xares-baseline={baseline_file}",
        f"--xares-markdown={md}",
        f"--junitxml={junit}",
        f"--xares-plot={png}",
    ).assert_outcomes(passed=2)

    rows = markdown_rows(md.read_text())
    header = rows[0]
    assert header[:8] == ["task", "method", "metric", "score", "95 % CI", "baseline", "Δ", "dasheng (published)"]
    knn = next(r for r in rows if r[:2] == ["tiny", "knn"])
    assert knn[3] == "1.000" and knn[5] == "0.990" and knn[6] == "+0.010"
    low, high = map(float, knn[4].split("–"))
    assert low <= 1.0 <= high + 1e-9
    assert summary.read_text() == md.read_text() + "\n"

    properties = {
        (case.get("name"), p.get("name")): p.get("value")
        for case in ET.parse(junit).getroot().iter("testcase")
        for p in case.iter("property")
    }
    assert float(properties["knn", "xares_score"]) == 1.0
    assert properties["mlp", "xares_metric"] == "accuracy"
    assert ".." in properties["mlp", "xares_ci95"]

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert 600 <= width <= 2000 and 150 <= height <= 2000


def test_xares_score_fixture_in_a_users_own_gate(pytester: pytest.Pytester, tiny_task: Path) -> None:
    gate = pytester.makepyfile(
        test_own_gate="""
        def test_tiny_is_good(xares_score):
            assert xares_score("tiny", "knn") > 0.9

        def test_unknown_task(xares_score):
            import pytest
            with pytest.raises(KeyError, match="no task 'nope'"):
                xares_score("nope")
        """
    )
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", str(gate), "-p", "no:cacheprovider"]
    # Alone (the suite's items deselected), so the fixture evaluates on demand...
    pytester.runpytest(*args, "-k", "test_").assert_outcomes(passed=2)
    # ...and beside the suite under xdist, in whatever order the workers take them.
    pytester.runpytest_subprocess(*args, "-k", "test_ or tiny", "-n", "2").assert_outcomes(passed=4)


def test_the_fixture_skips_without_an_encoder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_gate(xares_score): pass")
    pytester.runpytest().assert_outcomes(skipped=1)


def test_merging_results_of_several_runs(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_task / "tiny2.py").write_text(
        (tiny_task / "tiny.py").read_text().replace('name="tiny"', 'name="tiny2"').replace("weight=10", "weight=30")
    )
    data = tiny_task.parent / "xares-data"
    import shutil

    shutil.copytree(data / "tiny", data / "tiny2")
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    for name in ("tiny", "tiny2"):
        pytester.runpytest(
            f"--xares-encoder={spec}",
            f"--xares-tasks-dir={tiny_task}",
            "-k",
            f"{name} and not {name}2" if name == "tiny" else name,
            f"--xares-json={pytester.path / f'{name}.json'}",
        ).assert_outcomes(passed=2)
    merged = pytester.path / "merged.json"
    assert merge_main([str(pytester.path / "tiny.json"), str(pytester.path / "tiny2.json"), "--json", str(merged)]) == 0
    document = json.loads(merged.read_text())
    assert {(r["task"], r["method"]) for r in document["results"]} == {
        (t, m) for t in ("tiny", "tiny2") for m in ("mlp", "knn")
    }
    knn = next(a for a in document["averages"] if a["method"] == "knn" and a["scope"] == "all")
    scores = {r["task"]: r["score"] for r in document["results"] if r["method"] == "knn"}
    assert knn["score"] == pytest.approx((scores["tiny"] * 10 + scores["tiny2"] * 30) / 40)
    assert "| tiny2 " in capsys.readouterr().out

    other = json.loads((pytester.path / "tiny.json").read_text())
    other["seed"] = 7
    (pytester.path / "seed7.json").write_text(json.dumps(other))
    assert merge_main([str(pytester.path / "tiny2.json"), str(pytester.path / "seed7.json")]) == 2
    assert "different seeds" in capsys.readouterr().err
