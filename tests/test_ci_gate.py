"""What the CI gate guarantees: a gated task that does not run fails, a baseline that cannot gate
is refused, merges of different encoders are refused, bad options fail before any work, and an
item that failed without a score (a crashed worker) is in the results."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest

from pytest_xares.outputs.merge import main as merge_main
from pytest_xares.results.baseline import Baseline, BaselineError
from pytest_xares.results.scores import Results, TaskInfo, TaskResult
from pytest_xares.testing import BANDS_ENCODER, CRASHING_ENCODER, MEL, encoder_file

NO_CACHE = ("-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, tasks_dir: Path, *extra: str, encoder: str = BANDS_ENCODER) -> pytest.RunResult:
    spec = encoder_file(pytester.path, encoder)
    return pytester.runpytest(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tasks_dir}", "-k", "tiny", *NO_CACHE, *extra
    )


def write_baseline(path: Path, scores: dict, **top: object) -> Path:
    path.write_text(json.dumps({"format": 1, **top, "scores": scores}))
    return path


def usage_error(pytester: pytest.Pytester, *args: str) -> str:
    """Run pytest with the plugin on; assert a one-line usage error before any work; return it."""
    result = pytester.runpytest(f"--xares-encoder={MEL}", "--co", *NO_CACHE, *args)  # --co: no work if not refused
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    lines = [line for line in result.stderr.lines if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), result.stderr.str()
    assert not result.stdout.str().strip(), result.stdout.str()  # no work, nothing collected
    return lines[0]


# 1. A gated task that does not run fails ----------------------------------------------------------


def test_a_gated_task_that_does_not_run_fails_naming_the_cause(pytester: pytest.Pytester, tiny_task: Path) -> None:
    shutil.rmtree(tiny_task.parent / "xares-data" / "tiny")  # the task's data is absent (offline)
    baseline = write_baseline(
        pytester.path / "b.json",
        {"tiny": {"mlp": {"score": 0.9}}, "esc50": {"mlp": {"score": 0.8}}},  # esc50 is deselected by -k
    )
    result = run(pytester, tiny_task, f"--xares-baseline={baseline}")
    result.assert_outcomes(failed=1, skipped=1)  # tiny::knn has no entry: skipped, not gated
    result.stdout.fnmatch_lines(
        ["*_ xares::tiny::mlp _*", f"*gated by the baseline {baseline} but did not run: *tiny*"]
    )
    result.stdout.fnmatch_lines(["failed:", "  tiny::mlp: gated by the baseline *"])  # in the table too

    ungated = write_baseline(pytester.path / "other.json", {"esc50": {"mlp": {"score": 0.8}}})
    run(pytester, tiny_task, f"--xares-baseline={ungated}").assert_outcomes(skipped=2)
    # Refreshing the baseline does not gate either.
    run(pytester, tiny_task, f"--xares-baseline={baseline}", "--xares-update-baseline").assert_outcomes(skipped=2)


# 2. A baseline that cannot gate is refused before any work ----------------------------------------


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"scores": {"tiny": {"mlp": {"score": math.nan}}}}, "tiny mlp"),
        ({"scores": {"tiny": {"knn": {"score": 0.5, "tolerance": math.nan}}}}, "tiny knn"),
        ({"scores": {"tiny": {"mlp": {"score": 0.5, "tolerance": -0.01}}}}, "tiny mlp"),
        ({"tolerance": math.nan, "scores": {}}, "tolerance"),
        ({"tolerance": -0.1, "scores": {}}, "tolerance"),
        ({"scores": {"tiny": {"mlp": {"score": math.inf}}}}, "tiny mlp"),
    ],
    ids=["nan-score", "nan-tolerance", "negative-tolerance", "nan-file-tolerance", "negative-file-tolerance", "inf"],
)
def test_a_baseline_that_cannot_gate_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path, document: dict, named: str
) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(document))  # json writes NaN and Infinity, and reads them back
    with pytest.raises(BaselineError, match=named) as raised:
        Baseline.load(path)
    assert str(path) in str(raised.value)
    line = usage_error(pytester, f"--xares-baseline={path}")
    assert str(path) in line and named in line


def test_a_missing_baseline_file_is_an_error_unless_it_is_being_created(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    absent = pytester.path / "absent.json"
    line = usage_error(pytester, f"--xares-baseline={absent}")
    assert str(absent) in line and "--xares-update-baseline" in line
    with pytest.raises(BaselineError, match="does not exist"):
        Baseline.load(absent)
    run(pytester, tiny_task, f"--xares-baseline={absent}", "--xares-update-baseline").assert_outcomes(passed=2)
    assert set(json.loads(absent.read_text())["scores"]["tiny"]) == {"mlp", "knn"}


@pytest.mark.parametrize("value", ["-0.01", "nan", "-inf"])
def test_a_tolerance_option_that_cannot_gate_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    assert "--xares-tolerance" in usage_error(pytester, f"--xares-tolerance={value}")


def test_a_score_that_is_not_a_number_never_passes(tmp_path: Path) -> None:
    baseline = Baseline.load(write_baseline(tmp_path / "b.json", {"t": {"mlp": {"score": 0.8, "tolerance": 1.0}}}))
    verdict = baseline.judge("t", "mlp", math.nan)
    assert verdict.status == "regressed"
    assert "not a number" in verdict.message("t", "mlp", math.nan)
    assert baseline.judge("t", "mlp", math.nan, higher_is_better=False).status == "regressed"
    with pytest.raises(BaselineError, match="t mlp"):
        baseline.updated({("t", "mlp"): math.nan})


# 3. Merges of different encoders are refused ------------------------------------------------------


def results_file(path: Path, encoder: str, fingerprint: str, task: str = "tiny") -> Path:
    result = TaskResult(
        task, "mlp", "accuracy", 0.9, [0.9], [0.8, 1.0], {"train": 24, "test": 24}, {"total": 1.0}, 10,
        fingerprint, "cpu", 42,
    )  # fmt: skip
    info = TaskInfo(task, task, "accuracy", 10.0, False)
    Results([result], {task: info}, encoder=encoder).to_json(path)
    return path


@pytest.mark.parametrize("same_task", [True, False], ids=["same-task", "other-tasks"])
def test_merging_results_of_different_encoders_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], same_task: bool
) -> None:
    a = results_file(tmp_path / "a.json", "enc_a.py", "fp-aaaa")
    b = results_file(tmp_path / "b.json", "enc_b.py", "fp-bbbb", task="tiny" if same_task else "tiny2")
    merged = tmp_path / "merged.json"
    assert merge_main([str(a), str(b), "--json", str(merged)]) == 2
    error = capsys.readouterr().err
    for part in (str(a), str(b), "enc_a.py", "enc_b.py", "fp-aaaa", "fp-bbbb"):
        assert part in error
    assert not merged.exists()
    # The same encoder under another name merges.
    c = results_file(tmp_path / "c.json", "elsewhere/enc_a.py", "fp-aaaa", task="tiny2")
    assert merge_main([str(a), str(c)]) == 0


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00binary", b"[1, 2]", b'{"results": [{"task": "t"}]}'],
    ids=["not-json", "binary", "a-list", "a-torn-result"],
)
def test_merging_a_file_that_is_not_a_results_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    good = results_file(tmp_path / "good.json", "enc_a.py", "fp-aaaa")
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert merge_main([str(good), str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
    assert merge_main([str(good), str(tmp_path / "absent.json")]) == 2
    assert str(tmp_path / "absent.json") in capsys.readouterr().err


# 4. A run where nothing ran says so ---------------------------------------------------------------


def test_a_run_where_every_task_skipped_says_none_ran_and_why(pytester: pytest.Pytester, tiny_task: Path) -> None:
    shutil.rmtree(tiny_task.parent / "xares-data" / "tiny")
    result = run(pytester, tiny_task)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*X-ARES scores*", "0 tasks ran: 2 items did not run.", "not run:", "  tiny::mlp, tiny::knn: *tiny*"]
    )


# 5. Everything that can be checked before work is checked at configure time -----------------------


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CUDA", "cuda:-1"])
def test_a_device_torch_does_not_know_is_a_usage_error(pytester: pytest.Pytester, device: str) -> None:
    assert f"--xares-device: {device!r}" in usage_error(pytester, f"--xares-device={device}")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps", "xpu", "xpu:0", "meta"])
def test_devices_torch_knows_are_accepted(pytester: pytest.Pytester, device: str) -> None:
    result = pytester.runpytest(f"--xares-encoder={MEL}", f"--xares-device={device}", "--co", "-q", "-k", "esc50")
    assert result.ret == pytest.ExitCode.OK


def test_the_device_is_not_checked_when_the_plugin_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ordinary(): pass")
    pytester.runpytest("--xares-device=gpu", *NO_CACHE).assert_outcomes(passed=1)


@pytest.mark.parametrize("option", ["json", "markdown", "plot", "baseline"])
def test_output_paths_that_cannot_be_written_are_usage_errors(pytester: pytest.Pytester, option: str) -> None:
    folder = pytester.mkdir("a-folder")
    line = usage_error(pytester, f"--xares-{option}={folder}")
    assert f"--xares-{option}" in line and str(folder) in line and "directory" in line
    a_file = pytester.path / "a-file"
    a_file.write_text("")
    below = a_file / "sub" / "out.x"
    line = usage_error(pytester, f"--xares-{option}={below}")
    assert f"--xares-{option}" in line and str(a_file) in line and "not a directory" in line


def test_a_plot_without_matplotlib_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails; find_spec says None
    line = usage_error(pytester, f"--xares-plot={pytester.path / 'scores.png'}")
    assert "matplotlib" in line and "pytest-xares[plot]" in line


# 6. An item that failed without a score (a crashed worker) is in the results ----------------------


def test_a_crashed_worker_is_recorded_in_the_results_and_the_table(pytester: pytest.Pytester, tiny_task: Path) -> None:
    assert CRASHING_ENCODER != BANDS_ENCODER
    (tiny_task / "tiny2.py").write_text((tiny_task / "tiny.py").read_text().replace('name="tiny"', 'name="tiny2"'))
    data = tiny_task.parent / "xares-data"
    shutil.copytree(data / "tiny", data / "tiny2")
    spec = encoder_file(pytester.path, CRASHING_ENCODER)
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", f"--xares-json={out}",
        "-n", "2", *NO_CACHE,
    )  # fmt: skip
    # The plugin's own schedule (a task's items sent together): a crashed worker is replaced and the run ends.
    result.assert_outcomes(passed=2, failed=2)
    document = json.loads(out.read_text())
    assert {(r["task"], r["method"]) for r in document["results"]} == {("tiny", "mlp"), ("tiny", "knn")}
    assert set(document["failed"]) == {"tiny2::mlp", "tiny2::knn"}
    assert all("crashed" in reason for reason in document["failed"].values())
    result.stdout.fnmatch_lines(["*X-ARES scores*", "failed:", "  tiny2::*crashed*"])
    again = Results.from_dict(document)
    assert again.failed == document["failed"]
    assert "crashed" in str(again)
    with pytest.raises(KeyError, match="crashed"):
        again.score("tiny2", "mlp")
