"""The GitHub Actions workflow of a model repository that the README shows
(``examples/github-actions/xares.yml``): the README shows the file as it is, and every pytest and
``xares`` command in it is one the plugin and the CLI accept, with the settings the workflow means:
it gates on real tasks whose data folder the runner keeps between runs, compares with main's
results on a pull request, and runs the demo suite only as a smoke test that gates nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml  # a dependency of webdataset, which the package depends on

from pytest_xares.cli.main import matching, parser
from pytest_xares.plugin.options import settings_from
from pytest_xares.settings import Settings
from pytest_xares.task.registry import load_tasks

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "xares.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def expand(text: str, env: dict[str, str]) -> str:
    """``text`` as the runner's shell gets it: expressions (``${{ github.sha }}``) replaced by a
    placeholder, then ``$NAME`` from the workflow's environment (an undefined one fails the test)."""
    text = re.sub(r"\$\{\{[^}]*\}\}", "x", text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], text)


def commands(document: dict[str, Any], job: str, program: str) -> list[tuple[list[str], dict[str, str]]]:
    """Each ``program`` command of ``job``'s steps, split as the shell splits it, with its environment."""
    found = []
    for step in document["jobs"][job]["steps"]:
        env = {
            name: expand(str(value), {})
            for scope in (document, document["jobs"][job], step)
            for name, value in scope.get("env", {}).items()
        }
        for line in str(step.get("run", "")).splitlines():
            if re.match(rf"\s*{program}\s", line):
                found.append((shlex.split(expand(line, env)), env))
    return found


def pytest_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, job: str, doc: dict
) -> tuple[Settings, pytest.Config]:
    """The settings of the job's one pytest command, parsed by pytest with the plugin loaded and
    resolved with the job's ``XARES_*`` environment, as on the runner; a usage error fails the test."""
    (found,) = commands(doc, job, "pytest")
    args, env = found
    for name, value in env.items():
        if name.startswith("XARES_"):
            monkeypatch.setenv(name, value)
    config = pytester.parseconfig(*args[1:])
    assert config.getoption("numprocesses") == 2
    return settings_from(config), config


def test_the_readme_shows_the_workflow_file_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert f"```yaml\n{WORKFLOW.read_text('utf-8')}```" in readme


def test_the_gate_runs_real_tasks_against_the_baseline_with_their_data_kept_between_runs(
    workflow: dict, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, config = pytest_settings(pytester, monkeypatch, "gate", workflow)
    assert config.getoption("keyword") == workflow["env"]["GATED"]
    assert settings.suite == "xares" and settings.baseline is not None and not settings.update_baseline
    assert settings.json is not None and settings.markdown is not None and settings.seeds == 5
    gated = matching(load_tasks("xares"), workflow["env"]["GATED"])
    assert [t.name for t in gated] == ["cremad", "esc50", "gtzan_genre", "ravdess"]
    assert all(not t.private and t.record is not None for t in gated)  # fetched from Zenodo, so they can be kept
    kept = [
        step["with"]["path"] for step in workflow["jobs"]["gate"]["steps"] if "actions/cache" in step.get("uses", "")
    ]
    assert str(settings.data_dir).endswith("/" + kept[0]) and str(settings.cache_dir).endswith("/" + kept[1])


def test_the_demo_suite_is_a_smoke_test_that_gates_nothing(
    workflow: dict, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, config = pytest_settings(pytester, monkeypatch, "smoke", workflow)
    assert (
        not config.getoption("keyword")
        and settings.suite == "demo"
        and settings.baseline is None
        and settings.seeds == 1
    )


def test_a_pull_request_compares_with_mains_results_and_comments_it(workflow: dict) -> None:
    steps = workflow["jobs"]["gate"]["steps"]
    (kept,) = [
        s
        for s in steps
        if s.get("uses", "").startswith("actions/upload-artifact") and s.get("if", "").startswith("github.ref")
    ]
    ((compare, _),) = commands(workflow, "gate", "xares")
    args = parser().parse_args(compare[1:])  # argparse exits on anything `xares compare` does not accept
    assert args.command == "compare" and len(args.results) == 2
    script = next(s["run"] for s in steps if "xares compare" in s.get("run", ""))
    assert f"--name {kept['with']['name']} --dir {Path(args.results[0]).parent}" in script  # main's results
    assert args.results[1] == kept["with"]["path"]  # the file this run's gate wrote (--xares-json)
    assert f"--body-file {args.markdown}" in script and "gh pr comment" in script
    assert workflow["permissions"]["pull-requests"] == "write"


def test_the_baseline_command_the_workflow_names_makes_the_baseline_it_gates_on(
    workflow: dict, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    comment = [line[4:] for line in WORKFLOW.read_text("utf-8").splitlines() if line.startswith("#   ")]
    args = shlex.split(" ".join(comment))
    assert args[0] == "pytest"
    config = pytester.parseconfig(*args[1:])
    settings = settings_from(config)
    gate, _ = pytest_settings(pytester, monkeypatch, "gate", workflow)
    assert settings.update_baseline and settings.baseline == gate.baseline
    assert config.getoption("keyword") == workflow["env"]["GATED"] and settings.seeds == gate.seeds
