"""pytest hooks of pytest-xares. The plugin is inert unless an encoder is given (or a data-only
run: ``--xares-download-only``, ``--xares-verify-data``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_xares.baseline import Baseline, BaselineError, update_baseline
from pytest_xares.registry import TaskDefinitionError, load_tasks
from pytest_xares.results import BASELINE_PROPERTY, RESULT_PROPERTY, Results, TaskResult, write_text_atomic
from pytest_xares.settings import Settings, add_options, resolve, settings_key
from pytest_xares.task import ClipTask

tasks_key = pytest.StashKey[list[ClipTask]]()
runtime_key = pytest.StashKey["Runtime"]()  # noqa: F821 (built lazily, see runtime_of)
baseline_key = pytest.StashKey[Baseline]()
DATA_PROPERTY = "xares_data"  # what a download or verify item did (a DataOutcome as a dict)

MARKERS = {
    "xares": "an item of the X-ARES suite (encoder check or task evaluation)",
    "xares_check": "an encoder interface check of the X-ARES suite",
    "mlp": "X-ARES task evaluated with its trained head (the MLP column)",
    "knn": "X-ARES task evaluated with kNN",
    "xares_data": "an X-ARES task's data download or verification (--xares-download-only, --xares-verify-data)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    settings = resolve(config)
    config.stash[settings_key] = settings
    if not settings.active:
        return
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        config.stash[tasks_key] = load_tasks(settings.suite, settings.tasks_dir)
    except TaskDefinitionError as error:
        raise pytest.UsageError(str(error)) from None
    if settings.baseline is not None:
        try:
            config.stash[baseline_key] = Baseline.load(settings.baseline, settings.tolerance)
        except BaselineError as error:
            raise pytest.UsageError(str(error)) from None
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = []  # no paths given: run the suite only, not the tests around it
    if _is_xdist_controller(config) and config.getoption("dist", "no") == "load" and not _dist_chosen(config):
        config.option.dist = "loadgroup"  # keep a task's items on one worker (see the xdist_group marks)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(XaresReport(config, settings), "xares-report")
    else:
        from pytest_xares.runtime import share_cores

        share_cores()


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _dist_chosen(config: pytest.Config) -> bool:
    return any(arg == "--dist" or arg.startswith("--dist=") or arg == "-d" for arg in config.invocation_params.args)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the suite's items first; ``-k`` and ``-m`` deselect among them afterwards."""
    if not config.stash[settings_key].active:
        return
    from pytest_xares.items import XaresSuite  # the engine (torch) loads only where the suite runs

    mode = config.stash[settings_key].data_mode
    suite = XaresSuite.from_parent(session, name="xares", nodeid="xares", tasks=config.stash[tasks_key], data_mode=mode)
    # genitems reports the nodes as collected, so counts, --co and xdist's collection see them.
    items[:0] = list(session.genitems(suite))


def runtime_of(config: pytest.Config):  # -> Runtime
    """The process's runtime, created on first use by a running item (never at collection)."""
    if runtime_key not in config.stash:
        from pytest_xares.progress import Progress
        from pytest_xares.runtime import Runtime

        config.stash[runtime_key] = Runtime(config.stash[settings_key], Progress.for_pytest(config))
    return config.stash[runtime_key]


@pytest.fixture
def xares_score(request: pytest.FixtureRequest) -> Callable[..., float]:
    """``xares_score(task, method="mlp")``: the encoder's score on a task, for your own gates.

    Evaluates on demand, or reads the content-keyed cache when the suite (or another worker)
    already did, so it works in any order and under ``-n``::

        def test_esc50_is_good_enough(xares_score):
            assert xares_score("esc50", "mlp") > 0.8
    """
    config = request.config
    if not config.stash[settings_key].active:
        pytest.skip("xares_score needs an encoder: run with --xares-encoder=SPEC")
    tasks = {t.name: t for t in config.stash[tasks_key]}

    def score(task: str, method: str = "mlp") -> float:
        from pytest_xares.data.shards import MissingData

        if task not in tasks:
            raise KeyError(f"no task {task!r} in this suite; known: {', '.join(tasks)}")
        runtime = runtime_of(config)
        reason = runtime.gate()
        if reason is not None:
            pytest.skip(reason)
        try:
            return runtime.evaluate(tasks[task], method).score
        except MissingData as missing:
            pytest.skip(str(missing))

    return score


class XaresReport:
    """Gathers results from the reports of every item (also from xdist workers) and prints them."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.collected: list[TaskResult] = []
        self.skipped: dict[str, str] = {}
        self.verdicts: list[dict] = []
        self.notes: list[str] = []
        self.data: list[dict] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # every phase's report carries the item's properties
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY:
                if "skipped" in value:
                    self.skipped[f"{value['task']}::{value['method']}"] = value["skipped"]
                else:
                    self.collected.append(TaskResult.from_dict(value))
            elif name == BASELINE_PROPERTY:
                self.verdicts.append(value)
            elif name == DATA_PROPERTY:
                self.data.append(value)

    def results(self) -> Results:
        tasks = {t.name: t for t in self.config.stash[tasks_key]}
        spec = str(self.settings.encoder) if self.settings.encoder else None
        return Results(self.collected, tasks, self.skipped, spec, self.settings.seed)

    def pytest_sessionfinish(self) -> None:
        s = self.settings
        if not self.collected and not self.skipped:
            return
        results = self.results()
        if s.json is not None:
            results.to_json(s.json)
        baseline = self.config.stash.get(baseline_key, None)
        if s.markdown is not None or os.environ.get("GITHUB_STEP_SUMMARY"):
            text = results.to_markdown(baseline)
            if s.markdown is not None:
                write_text_atomic(s.markdown, text)
            if os.environ.get("GITHUB_STEP_SUMMARY"):
                with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
                    summary.write(text + "\n")
        if s.plot is not None and self.collected:
            self.notes.append(_plot(results, s.plot))
        if s.update_baseline and s.baseline is not None and self.collected:
            update_baseline(s.baseline, {(r.task, r.method): r.score for r in results.results}, s.tolerance)
            self.notes.append(f"baseline updated: {len(self.collected)} scores merged into {s.baseline}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.data:
            from pytest_xares.data.fetch import summary

            terminalreporter.section(f"X-ARES data: {self.settings.data_mode} ({self.settings.data_dir})")
            terminalreporter.write_line(summary(self.data))
        if not self.collected and not self.skipped:
            return
        write = terminalreporter.write_line
        terminalreporter.section(f"X-ARES scores: {self.settings.encoder}")
        write(str(self.results()))
        for status, title in (("regressed", "regressed beyond tolerance"),
                              ("improved", "improved well beyond tolerance: refresh the baseline with --xares-update-baseline"),
                              ("missing", "not in the baseline (not gated)")):
            chosen = [v for v in self.verdicts if v["status"] == status]
            if chosen:
                write(f"\nbaseline {self.settings.baseline}: {title}:")
                for v in chosen:
                    write("  " + _verdict_line(v))
        for note in self.notes + ([f"results written to {self.settings.json}"] if self.settings.json else []):
            write(note)


def _verdict_line(v: dict) -> str:
    if v["status"] == "missing":
        return f"{v['task']}::{v['method']}: {v['score']:.4f}"
    return f"{v['task']}::{v['method']}: {v['baseline']:.4f} → {v['score']:.4f} ({v['difference']:+.4f}, tolerance {v['tolerance']:.4f})"


def _plot(results: Results, path: Path) -> str:
    try:
        from pytest_xares.plot import plot_scores
    except ImportError as error:
        return f"no plot: {error}; install the plotting extra: pip install 'pytest-xares[plot]'"
    plot_scores(results, path)
    return f"plot written to {path}"
