"""The run's state, in one object per pytest process: settings, tasks, the baseline, and (in a
process that runs items) the encoder's runtime; on the xdist controller (or the single process)
also what the items reported, printed and written at the end.

A run of several encoders (``--xares-encoder`` more than once, a glob, ``--xares-checkpoints``)
has an ``EncoderRun`` per encoder: its label (its items' ids are ``xares::<label>::…``), its own
settings (its results files named after it) and runtime; each is built, encoded and cached on
its own, and the end of the run compares them side by side. A run of one encoder has one
``EncoderRun`` without a label, and the ids it always had.
"""

from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from pytest_xares.engine.estimate import PROPERTY as ESTIMATE_PROPERTY
from pytest_xares.engine.estimate import Estimate, table
from pytest_xares.engine.progress import Progress
from pytest_xares.outputs.junit import BASELINE_PROPERTY, DATA_PROPERTY, RESULT_PROPERTY
from pytest_xares.outputs.terminal import scores_lines
from pytest_xares.plugin.capture import progress_for
from pytest_xares.plugin.ids import suite_id
from pytest_xares.results.baseline import Baseline
from pytest_xares.results.scores import Results, TaskInfo, TaskResult
from pytest_xares.results.table import title
from pytest_xares.settings import Settings
from pytest_xares.task import Task

if TYPE_CHECKING:
    from pytest_xares.data.zenodo import Zenodo
    from pytest_xares.engine.runtime import Runtime

session_key = pytest.StashKey["XaresSession"]()
#: The property naming the encoder of an item's result, in a run of several.
ENCODER_PROPERTY = "xares_encoder"


def session_of(config: pytest.Config) -> XaresSession:
    return config.stash[session_key]


@dataclass
class EncoderRun:
    """One encoder of the run: its label (``None`` alone in its run), its settings and what its
    items reported."""

    label: str | None
    settings: Settings
    collected: list[TaskResult] = dataclasses.field(default_factory=list)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    runtime: Runtime | None = None


def labelled(path: Path | None, label: str) -> Path | None:
    """``results.json`` → ``results.<label>.json``: each encoder's own file."""
    return None if path is None else path.with_name(f"{path.stem}.{label}{path.suffix}")


def encoder_runs(settings: Settings) -> list[EncoderRun]:
    """One ``EncoderRun`` per encoder: labelled by ``EncoderSpec.label`` (made unique, and safe in a
    node id), with ``--xares-json``, ``--xares-markdown`` and ``--xares-plot`` named after it."""
    if len(settings.encoders) <= 1:
        return [EncoderRun(None, settings)]
    labels = [re.sub(r"[^\w.+=-]+", "_", spec.label) for spec in settings.encoders]
    labels = [label if labels.count(label) == 1 else f"{label}-{k}" for k, label in enumerate(labels)]
    return [
        EncoderRun(
            label,
            dataclasses.replace(
                settings,
                encoder=spec,
                encoders=(spec,),
                name=label,
                json=labelled(settings.json, label),
                markdown=labelled(settings.markdown, label),
                plot=labelled(settings.plot, label),
            ),
        )
        for label, spec in zip(labels, settings.encoders)
    ]


class XaresSession:
    """Registered as a plugin: it gathers results from the reports of every item (also from
    xdist workers) and, on the controller, prints and writes them at the end."""

    def __init__(self, config: pytest.Config, settings: Settings, tasks: list[Task], baseline: Baseline | None) -> None:
        self.config = config
        self.settings = settings
        self.tasks = tasks
        self.baseline = baseline
        self.runs = {run.label: run for run in encoder_runs(settings)}
        self.verdicts: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.data: list[dict[str, Any]] = []
        self.estimates: list[Estimate] = []
        self._data_source: tuple[Progress, Zenodo | None] | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def _run(self, label: str | None) -> EncoderRun:
        """The encoder ``label``'s run; the first for ``None`` or a label the run does not have."""
        return self.runs[label] if label in self.runs else next(iter(self.runs.values()))

    @property
    def labels(self) -> list[str | None]:
        """The encoders' labels, in order: ``[None]`` for a run of one."""
        return list(self.runs)

    def runtime(self, label: str | None = None) -> Runtime:
        """The runtime of the encoder ``label`` (the first: ``None``), created on first use by a
        running item (never at collection). Only one encoder is held built at a time: turning to
        another lets the last one go (its checks' verdicts stay)."""
        run = self._run(label)
        if run.runtime is None:
            from pytest_xares.engine.runtime import Runtime  # the engine (torch) loads only where items run

            run.runtime = Runtime(run.settings, progress_for(self.config))
        others = [r.runtime for r in self.runs.values() if r is not run and r.runtime is not None]
        if any(other.release() for other in others):
            gc.collect()
        return run.runtime

    def settings_of(self, results: Results) -> Settings:
        """The settings of the encoder whose results these are (its own output paths)."""
        return next(
            (r.settings for r in self.runs.values() if str(r.settings.encoder) == results.encoder), self.settings
        )

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
        label = next((str(value) for name, value in report.user_properties if name == ENCODER_PROPERTY), None)
        run = self._run(label)
        for name, value in report.user_properties:
            value = cast("dict[str, Any]", value)  # the properties read below are the dicts that items record
            if name == RESULT_PROPERTY:
                if "skipped" in value:
                    run.skipped[f"{value['task']}::{value['method']}"] = value["skipped"]
                elif "failed" in value:
                    run.failed[f"{value['task']}::{value['method']}"] = value["failed"]
                else:
                    run.collected.append(TaskResult.from_dict(value))
            elif name == BASELINE_PROPERTY:
                self.verdicts.append(value)
            elif name == DATA_PROPERTY:
                self.data.append(value)
            elif name == ESTIMATE_PROPERTY:
                self.estimates.append(Estimate.from_dict(value))

    def _failed_without_result(self, report: pytest.TestReport) -> None:
        parts = suite_id(report.nodeid)
        if (
            parts is None
            or parts[0] not in self.runs
            or not any(t.name == parts[1] and parts[2] in t.methods for t in self.tasks)
        ):
            return  # an encoder check, a data item, a test beside the suite
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = crash.message if crash is not None else str(report.longrepr)
        self.runs[parts[0]].failed.setdefault(f"{parts[1]}::{parts[2]}", reason)

    @property
    def reported(self) -> bool:
        """Whether any task item reported a score, a skip or a failure."""
        return any(run.collected or run.skipped or run.failed for run in self.runs.values())

    def results(self, label: str | None = None) -> Results:
        """The results of the encoder ``label`` (the first: ``None``)."""
        run = self._run(label)
        settings = run.settings
        spec = str(settings.encoder) if settings.encoder else None
        tasks: dict[str, Task | TaskInfo] = {t.name: t for t in self.tasks}
        return Results(run.collected, tasks, run.skipped, spec, settings.seed, run.failed, settings.name, settings.meta)

    # The end of the run ------------------------------------------------------------------------

    def pytest_sessionfinish(self) -> None:
        if self.is_worker or not self.reported:
            return
        for label in self.runs:
            written = self.config.hook.pytest_xares_results(config=self.config, results=self.results(label))
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
        if not self.reported:
            return
        if len(self.runs) > 1:
            from pytest_xares.outputs.terminal import comparison_lines

            every = [self.results(label) for label in self.runs]
            terminalreporter.section("X-ARES scores: " + " vs ".join(str(label) for label in self.runs))
            files = [run.settings.json for run in self.runs.values()]
            for line in comparison_lines(every, files, self.notes):
                terminalreporter.write_line(line)
            return
        terminalreporter.section(title(self.results()))
        for line in scores_lines(self.results(), self.verdicts, self.settings.baseline, self.notes):
            terminalreporter.write_line(line)
