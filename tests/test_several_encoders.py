"""Several encoders in one run (``--xares-encoder`` more than once, a glob of files,
``--xares-checkpoints``): each built, encoded and cached on its own, one results file each, and
one table that compares them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_xares.errors import UsageError
from pytest_xares.plugin.scheduling import task_of
from pytest_xares.plugin.session import encoder_runs
from pytest_xares.settings import Settings
from pytest_xares.testing import BANDS_ENCODER, LAYERED_ENCODER, encoder_file

#: An encoder built from a checkpoint: the bands encoder whose band scales are read from the file.
CHECKPOINT_ENCODER = BANDS_ENCODER.replace("def __init__(self):", "def __init__(self, checkpoint):").replace(
    "self.scale = torch.nn.Parameter(torch.ones(16))",
    "self.scale = torch.nn.Parameter(torch.load(checkpoint))",
)


def scores(path: Path) -> dict[tuple[str, str], float]:
    return {(r["task"], r["method"]): r["score"] for r in json.loads(path.read_text())["results"]}


def test_each_encoder_has_its_items_its_results_file_and_a_column(pytester: pytest.Pytester, tiny_task: Path) -> None:
    bands = encoder_file(pytester.path, BANDS_ENCODER, "bands.py")
    layered = encoder_file(pytester.path, LAYERED_ENCODER, "layered.py")
    out = pytester.path / "results.json"
    tasks = f"--xares-tasks-dir={tiny_task}"
    both = pytester.runpytest(f"--xares-encoder={bands}", f"--xares-encoder={layered}", tasks, f"--xares-json={out}",
                              "-k", "tiny or encoder", "-rA")  # fmt: skip
    both.assert_outcomes(passed=2 * 12)
    both.stdout.fnmatch_lines(
        [
            "*X-ARES scores: bands vs layered*",
            "| task * | metric * | bands * | layered * | Δ * | 95 % CI *|",
            "| tiny *",
            "*results written to *results.bands.json",
            "*results written to *results.layered.json",
            "*PASSED xares::bands::encoder::loads*",
            "*PASSED xares::layered::tiny::knn*",
        ]
    )
    assert not out.exists()
    # The same scores as each encoder alone, which reads them from the cache the run left.
    for name, spec in (("bands", bands), ("layered", layered)):
        alone = pytester.path / f"{name}-alone.json"
        pytester.runpytest(f"--xares-encoder={spec}", tasks, f"--xares-json={alone}", "-k", "tiny").assert_outcomes(
            passed=2
        )
        assert scores(alone) == scores(pytester.path / f"results.{name}.json")
        assert all(r["cached"] for r in json.loads(alone.read_text())["results"])
        assert json.loads((pytester.path / f"results.{name}.json").read_text())["name"] == name
    one = pytester.runpytest(f"--xares-encoder={bands}", f"--xares-encoder={layered}", tasks, "-k", "layered and tiny")
    one.assert_outcomes(passed=2)  # -k picks an encoder by its label


def test_a_glob_of_files_is_every_file_it_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths are taken from here
    for name in ("step-200.py", "step-100.py", "notes.txt"):
        (tmp_path / name).write_text("")
    settings = Settings.with_defaults(encoder="step-*.py", cache_dir=tmp_path)
    assert [Path(s.target).name for s in settings.encoders] == ["step-100.py", "step-200.py"]
    assert [run.label for run in encoder_runs(settings)] == ["step-100", "step-200"]
    with pytest.raises(UsageError, match="'missing-\\*.py' matches no file"):
        Settings.with_defaults(encoder="missing-*.py", cache_dir=tmp_path)
    with pytest.raises(UsageError, match="is given twice"):
        Settings.with_defaults(encoder=["step-100.py", "step-*.py"], cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"baseline": "b.json"}, "--xares-baseline take one encoder a run"),
        ({"estimate": True}, "--xares-estimate take one encoder a run"),
        ({"name": "mine"}, "--xares-name take one encoder a run"),
    ],
)
def test_what_takes_one_encoder_says_so(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Settings.with_defaults(encoder=["a.py", "b.py"], cache_dir=tmp_path, **options)


def test_each_checkpoint_is_an_encoder_of_the_one_class(pytester: pytest.Pytester, tiny_task: Path) -> None:
    import torch

    spec = encoder_file(pytester.path, CHECKPOINT_ENCODER, "from_checkpoint.py")
    runs = pytester.path / "runs"
    runs.mkdir()
    for step, scale in ((100, torch.ones(16)), (200, torch.linspace(0.1, 3.0, 16))):
        torch.save(scale, runs / f"step-{step}.pt")
    out = pytester.path / "series.json"
    result = pytester.runpytest(f"--xares-encoder={spec}", f"--xares-checkpoints={runs}/step-*.pt",
                                f"--xares-tasks-dir={tiny_task}", f"--xares-json={out}", "-k", "tiny")  # fmt: skip
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*X-ARES scores: step-100.pt vs step-200.pt*"])
    files = [pytester.path / f"series.step-{step}.pt.json" for step in (100, 200)]
    documents = [json.loads(path.read_text()) for path in files]
    assert documents[0]["encoder_fingerprint"] != documents[1]["encoder_fingerprint"]
    assert documents[0]["encoder"].endswith("from_checkpoint.py(" + str(runs / "step-100.pt") + ")")
    with pytest.raises(UsageError, match="--xares-checkpoints needs one --xares-encoder"):
        Settings.with_defaults(encoder=[str(spec), str(spec) + ":BandsEncoder"], checkpoints="runs/*.pt",
                               cache_dir=pytester.path)  # fmt: skip
    with pytest.raises(UsageError, match="matches no file or folder"):
        Settings.with_defaults(encoder=str(spec), checkpoints="nowhere/*.pt", cache_dir=pytester.path)


def test_an_encoder_that_does_not_build_fails_alone(pytester: pytest.Pytester, tiny_task: Path) -> None:
    good = encoder_file(pytester.path, BANDS_ENCODER, "good.py")
    broken = encoder_file(pytester.path, BANDS_ENCODER.replace("super().__init__()", "raise OSError('no weights')"),
                          "broken.py")  # fmt: skip
    result = pytester.runpytest(f"--xares-encoder={good}", f"--xares-encoder={broken}",
                                f"--xares-tasks-dir={tiny_task}", "-k", "tiny or loads")  # fmt: skip
    result.assert_outcomes(passed=3, failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*broken, not run:*", "*tiny::mlp, tiny::knn: encoder check 'loads' did not pass*"])


def test_under_xdist_the_items_of_one_encoder_and_task_go_together() -> None:
    assert task_of("xares::esc50::mlp") == "esc50"
    assert task_of("xares::step-100::esc50::knn") == task_of("xares::step-100::esc50::mlp") == "step-100::esc50"
    assert task_of("xares::step-100::esc50::mlp") != task_of("xares::step-200::esc50::mlp")
    assert task_of("xares::step-100::encoder::loads") is None and task_of("tests/test_x.py::test") is None


def test_several_encoders_under_xdist_score_as_one_process(pytester: pytest.Pytester, tiny_task: Path) -> None:
    bands = encoder_file(pytester.path, BANDS_ENCODER, "bands.py")
    layered = encoder_file(pytester.path, LAYERED_ENCODER, "layered.py")
    args = [f"--xares-encoder={bands}", f"--xares-encoder={layered}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny"]
    pytester.runpytest_subprocess(*args, f"--xares-json={pytester.path / 'one.json'}").assert_outcomes(passed=4)
    pytester.runpytest_subprocess(
        *args, "-n", "2", f"--xares-json={pytester.path / 'two.json'}", f"--xares-cache-dir={pytester.path / 'fresh'}"
    ).assert_outcomes(passed=4)
    for name in ("bands", "layered"):
        assert scores(pytester.path / f"one.{name}.json") == scores(pytester.path / f"two.{name}.json")
