"""The run's state, in one object per pytest process: settings, tasks, the baseline, and (in a
process that runs items) the encoder's runtime; on the xdist controller (or the single process)
also what the items reported, printed and written at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest

from pytest_xares.engine.estimate import PROPERTY as ESTIMATE_PROPERTY
from pytest_xares.engine.estimate import Estimate, table
from pytest_xares.engine.progress import Progress
from pytest_xares.outputs.junit import BASELINE_PROPERTY, DATA_PROPERTY, RESULT_PROPERTY
from pytest_xares.outputs.terminal import scores_lines
from pytest_xares.plugin.capture import progress_for
from pytest_xares.results.baseline import Baseline
from pytest_xares.results.scores import Results, TaskInfo, TaskResult
from pytest_xares.results.table import title
from pytest_xares.settings import Settings
from pytest_xares.task import Task

if TYPE_CHECKING:
    from pytest_xares.data.zenodo import Zenodo
    from pytest_xares.engine.runtime import Runtime

session_key = pytest.StashKey["XaresSession"]()


def session_of(config: pytest.Config) -> XaresSession:
    return config.stash[session_key]


class XaresSession:
    """Registered as a plugin: it gathers results from the reports of every item (also from
    xdist workers) and, on the controller, prints and writes them at the end."""

    def __init__(self, config: pytest.Config, settings: Settings, tasks: list[Task], baseline: Baseline | None) -> None:
        self.config = config
        self.settings = settings
        self.tasks = tasks
        self.baseline = baseline
        self.collected: list[TaskResult] = []
        self.skipped: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.verdicts: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.data: list[dict[str, Any]] = []
        self.estimates: list[Estimate] = []
        self._runtime: Runtime | None = None
        self._data_source: tuple[Progress, Zenodo | None] | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def runtime(self) -> Runtime:
        """The process's runtime, created on first use by a running item (never at collection)."""
        if self._runtime is None:
            from pytest_xares.engine.runtime import Runtime  # the engine (torch) loads only where items run

            self._runtime = Runtime(self.settings, progress_for(self.config))
        return self._runtime

    def data_source(self) -> tuple[Progress, Zenodo | None]:
        """This process's progress display and Zenodo client (``None`` offline), made once."""
        if self._data_source is None:
            from pytest_xares.engine.runtime import data_source

            progress = progress_for(self.config)
            self._data_source = (progress, data_source(self.settings, progress))
        return self._data_source

    # What the items reported -------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Scores, skips and verdicts from the call phase's properties; and, from any phase, a
        task item that failed without a score of its own: an error, or xdist's report of an item
        whose worker crashed (phase ``???``, no properties, the crash as its longrepr)."""
        if self.is_worker:
            return
        if report.failed and not any(name == RESULT_PROPERTY for name, _ in report.user_properties):
            self._failed_without_result(report)
        if report.when != "call":  # every phase's report carries the item's properties
            return
        for name, value in report.user_properties:
            value = cast("dict[str, Any]", value)  # the properties read below are the dicts that items record
            if name == RESULT_PROPERTY:
                if "skipped" in value:
                    self.skipped[f"{value['task']}::{value['method']}"] = value["skipped"]
                elif "failed" in value:
                    self.failed[f"{value['task']}::{value['method']}"] = value["failed"]
                else:
                    self.collected.append(TaskResult.from_dict(value))
            elif name == BASELINE_PROPERTY:
                self.verdicts.append(value)
            elif name == DATA_PROPERTY:
                self.data.append(value)
            elif name == ESTIMATE_PROPERTY:
                self.estimates.append(Estimate.from_dict(value))

    def _failed_without_result(self, report: pytest.TestReport) -> None:
        parts = report.nodeid.split("::")
        if len(parts) == 3:
            parts[2] = parts[2].split("@", 1)[0]  # under loadgroup xdist's suffix follows: mlp@esc50
        if (
            len(parts) != 3
            or parts[0] != "xares"
            or not any(t.name == parts[1] and parts[2] in t.methods for t in self.tasks)
        ):
            return  # an encoder check, a data item, a test beside the suite
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = crash.message if crash is not None else str(report.longrepr)
        self.failed.setdefault(f"{parts[1]}::{parts[2]}", reason)

    def results(self) -> Results:
        spec = str(self.settings.encoder) if self.settings.encoder else None
        tasks: dict[str, Task | TaskInfo] = {t.name: t for t in self.tasks}
        settings = self.settings
        return Results(
            self.collected, tasks, self.skipped, spec, settings.seed, self.failed, settings.name, settings.meta
        )

    # The end of the run ------------------------------------------------------------------------

    def pytest_sessionfinish(self) -> None:
        if self.is_worker or not (self.collected or self.skipped or self.failed):
            return
        written = self.config.hook.pytest_xares_results(config=self.config, results=self.results())
        self.notes += [note for note in written if note]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.data:
            from pytest_xares.data.fetch import summary

            terminalreporter.section(f"X-ARES data: {self.settings.data_mode} ({self.settings.data_dir})")
            terminalreporter.write_line(summary(self.data))
        if self.estimates:
            workers = int(getattr(self.config.option, "numprocesses", None) or 1)
            terminalreporter.section(f"X-ARES estimate: {self.settings.encoder} (nothing was downloaded or cached)")
            terminalreporter.write_line(table(self.estimates, workers))
        if not (self.collected or self.skipped or self.failed):
            return
        terminalreporter.section(title(self.results()))
        for line in scores_lines(self.results(), self.verdicts, self.settings.baseline, self.notes):
            terminalreporter.write_line(line)
