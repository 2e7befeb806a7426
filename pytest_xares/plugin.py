"""pytest hooks of pytest-xares. The plugin is inert unless an encoder is given."""

from __future__ import annotations

import pytest

from pytest_xares.items import RESULT_PROPERTY, XaresSuite
from pytest_xares.registry import TaskDefinitionError, load_tasks
from pytest_xares.results import Results, TaskResult
from pytest_xares.settings import Settings, add_options, resolve, settings_key
from pytest_xares.task import ClipTask

tasks_key = pytest.StashKey[list[ClipTask]]()
runtime_key = pytest.StashKey["Runtime"]()  # noqa: F821 (built lazily, see runtime_of)

MARKERS = {
    "xares": "an item of the X-ARES suite (encoder check or task evaluation)",
    "xares_check": "an encoder interface check of the X-ARES suite",
    "mlp": "X-ARES task evaluated with its trained head (the MLP column)",
    "knn": "X-ARES task evaluated with kNN",
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
    suite = XaresSuite.from_parent(session, name="xares", nodeid="xares", tasks=config.stash[tasks_key])
    # genitems reports the nodes as collected, so counts, --co and xdist's collection see them.
    items[:0] = list(session.genitems(suite))


def runtime_of(config: pytest.Config):  # -> Runtime
    """The process's runtime, created on first use by a running item (never at collection)."""
    if runtime_key not in config.stash:
        from pytest_xares.progress import Progress
        from pytest_xares.runtime import Runtime

        config.stash[runtime_key] = Runtime(config.stash[settings_key], Progress.for_pytest(config))
    return config.stash[runtime_key]


class XaresReport:
    """Gathers results from the reports of every item (also from xdist workers) and prints them."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.collected: list[TaskResult] = []
        self.skipped: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # every phase's report carries the item's properties
            return
        for name, value in report.user_properties:
            if name != RESULT_PROPERTY:
                continue
            if "skipped" in value:
                self.skipped[f"{value['task']}::{value['method']}"] = value["skipped"]
            else:
                self.collected.append(TaskResult.from_dict(value))

    def results(self) -> Results:
        tasks = {t.name: t for t in self.config.stash[tasks_key]}
        spec = str(self.settings.encoder) if self.settings.encoder else None
        return Results(self.collected, tasks, self.skipped, spec, self.settings.seed)

    def pytest_sessionfinish(self) -> None:
        if self.settings.json is not None and (self.collected or self.skipped):
            self.results().to_json(self.settings.json)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.collected and not self.skipped:
            return
        terminalreporter.section(f"X-ARES scores: {self.settings.encoder}")
        terminalreporter.write_line(str(self.results()))
        if self.settings.json is not None:
            terminalreporter.write_line(f"results written to {self.settings.json}")
