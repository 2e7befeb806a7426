"""The researcher's commands, used as a researcher uses them: results files of real runs compared
with ``xares compare``, the tasks listed by ``xares tasks`` and ``pytest --xares-list``, runs
labelled with ``--xares-name`` and ``--xares-meta``, the cache sized and pruned by ``xares cache``."""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

import pytest

from pytest_xares.cli.main import main
from pytest_xares.outputs.merge import main as merge_main
from pytest_xares.task.registry import load_tasks
from pytest_xares.testing import BANDS_ENCODER, encoder_file, write_tone_shard

#: Another correct encoder: the bands weighed against their mirror image.
FLIPPED = BANDS_ENCODER.replace(
    "return torch.log(bands + 1e-6) * self.scale",
    "return torch.log(bands + 1e-6) * self.scale + 0.5 * torch.log(bands + 1e-6).flip(-1)",
)


def run(pytester: pytest.Pytester, tiny_task: Path, encoder: str, *extra: str) -> pytest.RunResult:
    spec = encoder_file(pytester.path, encoder, f"encoder_{abs(hash(encoder)) % 10**6}.py")
    return pytester.runpytest(f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", *extra)


def results(pytester: pytest.Pytester, tiny_task: Path, encoder: str, name: str, *extra: str) -> Path:
    path = pytester.path / f"{name}.json"
    run(pytester, tiny_task, encoder, f"--xares-json={path}", f"--xares-name={name}", *extra).assert_outcomes(passed=2)
    return path


# --- xares compare ------------------------------------------------------------------------------


def test_compare_shows_both_encoders_the_difference_and_its_paired_interval(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bands = results(pytester, tiny_task, BANDS_ENCODER, "bands", "--xares-meta", "commit=3f2a1c")
    flipped = results(pytester, tiny_task, FLIPPED, "flipped")
    capsys.readouterr()
    markdown, plot = pytester.path / "compare.md", pytester.path / "compare.png"
    assert main(["compare", str(bands), str(flipped), "--markdown", str(markdown), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("X-ARES comparison: bands vs flipped\n")
    legend = " ".join(out.split("\n\n")[0].split())  # wrapped to the terminal's width
    assert "commit=3f2a1c" in legend and "16-d every 10 ms at 16000 Hz, 16 parameters" in legend
    table = [line for line in out.splitlines() if line.startswith("| tiny")]
    assert [line.split("|")[1].strip() for line in table] == ["tiny", "tiny (kNN)"]
    first = {r["method"]: r["score"] for r in json.loads(bands.read_text())["results"]}
    second = {r["method"]: r["score"] for r in json.loads(flipped.read_text())["results"]}
    cells = [cell.strip() for cell in table[0].split("|")[1:-1]]
    assert cells[:4] == ["tiny", "accuracy", f"{first['mlp']:.3f}", f"{second['mlp']:.3f}"]
    assert cells[4].rstrip("*") == f"{second['mlp'] - first['mlp']:+.3f}"
    low, high = (float(x) for x in cells[5].split(" … "))
    assert low <= second["mlp"] - first["mlp"] <= high
    assert max(len(line) for line in out.splitlines() if line.startswith("|")) <= 120
    assert markdown.read_text().startswith("### X-ARES comparison: bands vs flipped\n")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_files_joined_by_plus_are_one_encoder_merged_first(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = results(pytester, tiny_task, BANDS_ENCODER, "whole")
    parts = []
    for method in ("mlp", "knn"):
        path = pytester.path / f"part-{method}.json"
        run(pytester, tiny_task, BANDS_ENCODER, "-k", f"tiny and {method}", f"--xares-json={path}").assert_outcomes(
            passed=1
        )
        parts.append(str(path))
    capsys.readouterr()
    assert main(["compare", str(whole), "+".join(parts)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny")]
    assert len(rows) == 2 and all("+0.000 | +0.000 … +0.000" in row for row in rows), rows  # the same scores

    assert main(["compare", str(whole), parts[0]]) == 0  # one method only: the other row has no difference
    assert "| tiny (kNN) | accuracy | " in capsys.readouterr().out


def test_results_of_other_test_clips_are_refused(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bands = results(pytester, tiny_task, BANDS_ENCODER, "bands")
    other_data = pytester.path / "other-data"
    for seed, split in enumerate(("train", "valid", "test")):
        labels = ["a", "b", "c"] * (8 if split != "test" else 7)  # three test clips fewer
        write_tone_shard(other_data / "tiny" / f"tiny_{split}_000000.tar", labels, seed=seed)
    other = results(pytester, tiny_task, BANDS_ENCODER, "other", f"--xares-data-dir={other_data}")
    capsys.readouterr()
    assert main(["compare", str(bands), str(other)]) == 2
    err = capsys.readouterr().err
    assert "xares compare: tiny: bands" in err and "the test clips differ (24 against 21 clips" in err


def test_a_file_that_is_no_results_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{")
    for name, why in [
        ("missing.json", "FileNotFoundError"),
        ("list.json", "a JSON list"),
        ("broken.json", "JSONDecodeError"),
    ]:
        assert main(["compare", str(tmp_path / name), str(tmp_path / "list.json")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / name} is not a readable results file" in err and why in err
    assert merge_main([str(tmp_path / "list.json")]) == 2
    assert "cannot merge" in capsys.readouterr().err


def test_an_older_results_file_is_compared_without_an_interval_and_a_changed_one_is_refused(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bands = results(pytester, tiny_task, BANDS_ENCODER, "bands")
    document = json.loads(bands.read_text())
    for result in document["results"]:
        del result["per_clip"]
    older = pytester.path / "older.json"
    older.write_text(json.dumps(document))
    capsys.readouterr()
    assert main(["compare", str(bands), str(older)]) == 0
    out = capsys.readouterr().out
    assert "| +0.000 | unpaired" in out and "unpaired: no per-clip data" in out

    document = json.loads(bands.read_text())
    document["results"][0]["fold_scores"] = [0.01]
    changed = pytester.path / "changed.json"
    changed.write_text(json.dumps(document))
    assert main(["compare", str(bands), str(changed)]) == 2
    assert "not the recorded score" in capsys.readouterr().err


def test_a_plot_without_matplotlib_says_what_to_install(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bands = results(pytester, tiny_task, BANDS_ENCODER, "bands")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    capsys.readouterr()
    assert main(["compare", str(bands), str(bands), "--plot", str(pytester.path / "x.png")]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert not (pytester.path / "x.png").exists()


# --- labels in the results file -----------------------------------------------------------------


def test_name_meta_and_the_encoders_attributes_are_in_the_results_file_and_the_title(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    path = pytester.path / "labelled.json"
    result = run(
        pytester, tiny_task, BANDS_ENCODER, f"--xares-json={path}", "--xares-name=bands-v2",
        "--xares-meta", "commit=3f2a1c", "--xares-meta", "note=lr 1e-3, 10 epochs",
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*X-ARES scores: bands-v2*"])
    document = json.loads(path.read_text())
    assert document["name"] == "bands-v2"
    assert document["meta"] == {"commit": "3f2a1c", "note": "lr 1e-3, 10 epochs"}
    assert document["encoder_attributes"] == {
        "sampling_rate": 16000,
        "output_dim": 16,
        "hop_size_in_ms": 10,
        "parameters": 16,
    }

    pytester.makeini("[pytest]\nxares_meta =\n    host=node7\n    gpu=none\n")
    run(pytester, tiny_task, BANDS_ENCODER, f"--xares-json={path}").assert_outcomes(passed=2)
    assert json.loads(path.read_text())["meta"] == {"host": "node7", "gpu": "none"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--xares-meta", "commit"], "*--xares-meta: 'commit' is not key=value*"),
        (["--xares-meta", "=3f2a1c"], "*--xares-meta: '=3f2a1c' is not key=value*"),
        (["--xares-meta", "a=1", "--xares-meta", "a=2"], "*--xares-meta: 'a' is given twice ('1' and '2')*"),
    ],
)
def test_a_malformed_meta_label_fails_before_any_work(
    pytester: pytest.Pytester, tiny_task: Path, given: list[str], message: str
) -> None:
    result = run(pytester, tiny_task, BANDS_ENCODER, *given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_meta_from_the_environment_is_separated_by_semicolons(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xares.settings import Settings

    monkeypatch.setenv("XARES_META", "commit=3f2a1c; host=node7")
    assert Settings.with_defaults().meta == {"commit": "3f2a1c", "host": "node7"}
    assert Settings.with_defaults(meta={"run": 3}).meta == {"run": "3"}


# --- xares tasks and --xares-list ---------------------------------------------------------------


def test_xares_tasks_lists_the_selected_tasks_with_their_data_and_published_scores(
    tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "-k", "esc50 or (cremad and not knn)"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("esc50", "cremad"))]
    assert rows == [
        ["cremad", "speech", "clip", "accuracy", "1116", "–", "–", "–", "no", "0.767"],
        ["esc50", "sound", "clip", "accuracy", "400", "–", "–", "–", "no", "0.857"],
    ]
    assert main(["tasks", "--tasks-dir", str(tiny_task), "-k", "tiny", "-v"]) == 0
    out = capsys.readouterr().out
    assert "tiny " in out and " yes " in out  # its shards are in the data folder
    assert main(["tasks", "-k", "esc50", "-v"]) == 0
    out = capsys.readouterr().out
    assert "reference: https://github.com/karolpiczak/ESC-50" in out
    assert "published MLP: dasheng 0.857, wav2vec2 0.510, whisper 0.528, data2vec 0.229" in out
    assert max(map(len, out.splitlines()[:3])) <= 120
    assert main(["tasks", "-k", "esc50", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["record"] == 14614287 and row["published"]["mlp"]["dasheng"] == 0.857


def test_the_whole_suite_fits_in_120_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if line.split()[-1:] and line.split()[-2:-1] == ["no"]]) == 28
    assert max(map(len, lines)) <= 120


@pytest.mark.parametrize(
    ("keyword", "message"), [("esc50 or (", "is not a keyword expression"), ("nothing", "selects none")]
)
def test_a_selection_that_cannot_work_is_an_error(
    keyword: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "-k", keyword]) == 2
    assert message in capsys.readouterr().err


def test_pytest_xares_list_prints_the_tasks_without_an_encoder(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--xares-list", "-k", "fsd")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["task *", "fsd50k * multilabel * mAP * 2000 *0.409", "fsdkaggle2018 *0.534", "2 tasks.*"]
    )
    assert "passed" not in result.stdout.str()
    bad = pytester.runpytest("--xares-list", "-k", "esc50 or (")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*is not a keyword expression*"])


def test_every_task_says_what_it_is_and_where_it_comes_from() -> None:
    import dataclasses

    for suite in ("xares", "demo"):
        for task in load_tasks(suite):
            assert task.description and "\n" not in task.description and len(task.description) < 120, task.name
            assert task.domain in ("speech", "sound", "music"), task.name
            if suite == "xares":
                assert task.reference.startswith("https://"), task.name
            else:
                assert task.reference == f"pytest_xares.tasks.demo.{task.name.removeprefix('demo_')} (synthesised)"
            described = dataclasses.replace(task, description="other", reference="", domain="music")
            assert described.fingerprint() == task.fingerprint(), "a description changes no score"


# --- xares cache --------------------------------------------------------------------------------


def test_the_cache_is_sized_per_encoder_and_pruned_only_when_asked(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = Path(os.environ["XARES_CACHE_DIR"])
    path = pytester.path / "bands.json"
    run(pytester, tiny_task, BANDS_ENCODER, f"--xares-json={path}").assert_outcomes(passed=2)
    fingerprint = json.loads(path.read_text())["encoder_fingerprint"]
    records = sorted(p.name for p in (cache / "usage").glob("*/*.json"))
    assert records == ["checks.json", "tiny.json"]
    record = next((cache / "usage").glob("*/tiny.json"))
    written = record.stat().st_mtime_ns

    warm = run(pytester, tiny_task, BANDS_ENCODER)
    warm.assert_outcomes(passed=2)
    assert _time_of_tiny(warm) == "cached"
    assert record.stat().st_mtime_ns == written  # a warm run leaves the records as they are

    capsys.readouterr()
    assert main(["cache", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(fingerprint[:12])]
    assert {row[4] for row in rows} == {"checks", "tiny"} and all(
        row[3] == datetime.date.today().isoformat() for row in rows
    )
    tiny = next(row for row in rows if row[4] == "tiny")
    assert tiny[5] == "5"  # the embeddings of train, valid and test, and the two scores

    entries = [p for p in cache.rglob("*") if p.is_file() and "usage" not in p.parts and ".locks" not in p.parts]
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert main(["cache", "prune", "--cache-dir", str(cache), "--before", datetime.date.today().isoformat()]) == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert main(["cache", "prune", "--cache-dir", str(cache), "--encoder", fingerprint[:8]]) == 0
    assert "nothing removed: add --yes" in capsys.readouterr().out
    assert all(p.exists() for p in entries)  # a dry run

    assert main(["cache", "prune", "--cache-dir", str(cache), "--before", tomorrow, "--yes"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not any(p.exists() for p in entries if "sizes" not in p.parts)
    again = run(pytester, tiny_task, BANDS_ENCODER)
    again.assert_outcomes(passed=2)
    assert _time_of_tiny(again) != "cached"  # computed anew


def test_what_a_dead_writer_left_is_listed_and_pruned_once_it_is_old(
    pytester: pytest.Pytester, tiny_task: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = Path(os.environ["XARES_CACHE_DIR"])
    run(pytester, tiny_task, BANDS_ENCODER).assert_outcomes(passed=2)
    folder = next((cache / "embeddings").iterdir())
    old, fresh = folder / ".a1b2.npz.x7y8.tmp", folder / ".c3d4.f16.z9w0.tmp"  # as files.write_atomic names them
    old.write_bytes(b"\0" * 1000)
    fresh.write_bytes(b"\0" * 10)
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    capsys.readouterr()
    assert main(["cache", "--cache-dir", str(cache)]) == 0
    assert any(
        line.split()[:1] == ["(unfinished)"] and "1.0 kB" in line for line in capsys.readouterr().out.splitlines()
    )
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert main(["cache", "prune", "--cache-dir", str(cache), "--before", tomorrow, "--yes"]) == 0
    assert not old.exists() and fresh.exists()  # written to within the hour: a writer may be at work on it
    run(pytester, tiny_task, BANDS_ENCODER).assert_outcomes(passed=2)  # nothing else was harmed


def _time_of_tiny(result: pytest.RunResult) -> str:
    """The last column (the time spent, or ``cached``) of the tiny task's row in the scores table."""
    row = next(line for line in result.outlines if line.startswith("| tiny"))
    return row.strip().strip("|").split("|")[-1].strip()


def test_prune_refuses_to_guess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cache").mkdir()
    assert main(["cache", "prune", "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "needs --before DATE, --encoder FINGERPRINT or --protocol VERSION" in capsys.readouterr().err
    assert main(["cache", "--cache-dir", str(tmp_path / "none")]) == 2
    assert "no cache at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "prune", "--cache-dir", str(tmp_path / "cache"), "--before", "2025-13-01"])
    assert "is not a date like" in capsys.readouterr().err


def test_the_python_api_labels_its_results_too(tiny_task: Path, tmp_path: Path) -> None:
    import pytest_xares

    (task,) = [t for t in load_tasks("demo", tiny_task) if t.name == "tiny"]
    results = pytest_xares.evaluate(
        str(encoder_file(tmp_path, BANDS_ENCODER)),
        [task],
        ("knn",),
        name="bands",
        meta={"commit": "3f2a1c"},
        progress=False,
    )
    document = json.loads(results.to_json())
    assert (document["name"], document["meta"], results.label) == ("bands", {"commit": "3f2a1c"}, "bands")
    assert document["encoder_attributes"]["output_dim"] == 16
