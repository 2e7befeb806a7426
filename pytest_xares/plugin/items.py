"""The suite as pytest nodes: ``xares::encoder::<check>`` and ``xares::<task>::<method>`` items,
or, when a run handles data only, one ``xares::<task>::download`` (or ``::verify``) item per task.
A run of several encoders has them once per encoder, under its label: ``xares::<label>::…``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, NoReturn

import pytest

from pytest_xares.data.fetch import ensure_task_data, verify_task_data
from pytest_xares.data.zenodo import DownloadError
from pytest_xares.engine.estimate import PROPERTY as ESTIMATE_PROPERTY
from pytest_xares.engine.policy import check, estimate, prefetch, run_item
from pytest_xares.engine.runtime import Runtime, checks_of_run
from pytest_xares.errors import MissingData, NotRun, UsageError, XaresError
from pytest_xares.outputs.junit import (
    BASELINE_PROPERTY,
    CHECK_PROPERTY,
    DATA_PROPERTY,
    RESULT_PROPERTY,
    result_properties,
)
from pytest_xares.plugin.session import ENCODER_PROPERTY, session_of
from pytest_xares.task import Task

#: The encoders whose selected work this session has handed to the engine (``prefetch``).
prefetched = pytest.StashKey[set[str | None]]()


class XaresSuite(pytest.Collector):
    """The root of the suite's nodes (``xares``), holding the encoder checks and one node per task.

    ``mode`` ``"download"`` or ``"verify"``: no encoder, one data item per task instead;
    ``"estimate"``: one estimate item per task, and no checks (they would store their verdicts)."""

    def __init__(self, tasks: list[Task], mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks
        self.mode = mode

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        if session_of(self.config).settings.ray is not None and hasattr(self.config, "workerinput"):
            raise UsageError(
                "--xares-ray: leave out -n; this session is the Ray driver and the cluster runs the tasks in "
                "parallel, each selected task at once"
            )
        labels = session_of(self.config).labels if self.mode is None else [None]
        if len(labels) > 1:
            for label in labels:
                yield EncoderNode.from_parent(self, name=str(label), tasks=self.tasks)
        else:
            yield from children(self, self.tasks, self.mode)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, XaresError):  # what to do, without a traceback
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo)


def children(parent: pytest.Collector, tasks: list[Task], mode: str | None) -> Iterator[pytest.Collector]:
    """The encoder's checks (unless the run handles data or estimates) and a node per task."""
    if mode is None:
        yield EncoderChecks.from_parent(parent, name="encoder")
    for task in tasks:
        yield TaskNode.from_parent(parent, name=task.name, task=task, mode=mode)


class EncoderNode(pytest.Collector):
    """``xares::<label>``: one encoder's checks and tasks, in a run of several."""

    def __init__(self, tasks: list[Task], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        yield from children(self, self.tasks, None)


def label_of(node: pytest.Item | pytest.Collector) -> str | None:
    """The label of the encoder a node belongs to, in a run of several; else ``None``."""
    for parent in node.iter_parents():
        if isinstance(parent, EncoderNode):
            return parent.name
    return None


class EncoderChecks(pytest.Collector):
    def collect(self) -> Iterator[pytest.Item]:
        for name in checks_of_run(session_of(self.config).settings):
            item = CheckItem.from_parent(self, name=name)
            item.add_marker("xares")
            item.add_marker("xares_check")
            yield item


class TaskNode(pytest.Collector):
    def __init__(self, task: Task, mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.mode = mode

    def collect(self) -> Iterator[pytest.Item]:
        if self.mode == "estimate":
            item: XaresItem = EstimateItem.from_parent(self, name="estimate", task=self.task)
            item.add_marker("xares")
            yield item
            return
        if self.mode is not None:
            item = DataItem.from_parent(self, name=self.mode, task=self.task)
            item.add_marker("xares")
            item.add_marker("xares_data")
            yield item
            return
        for method in self.task.methods:
            item = TaskItem.from_parent(self, name=method, task=self.task)
            item.add_marker("xares")
            item.add_marker(method)
            # For an explicit --dist loadgroup (where xdist can still group: pytest before 9.2); the
            # plugin's own default groups by the ids instead (plugin.scheduling).
            label = label_of(self)
            item.add_marker(pytest.mark.xdist_group(self.task.name if label is None else f"{label}::{self.task.name}"))
            yield item


class XaresItem(pytest.Item):
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        # A message that says what to do needs no traceback.
        if isinstance(excinfo.value, XaresError):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.nodeid

    def runtime(self) -> Runtime:
        """The runtime of the item's encoder in this process, after handing it the encoder's whole
        selection once (a Ray cluster starts on all of it at once; run here, each item does its own
        work when its turn comes)."""
        label = label_of(self)
        runtime = session_of(self.config).runtime(label)
        done = self.config.stash.setdefault(prefetched, set())
        if label not in done:
            done.add(label)
            items = [item for item in self.session.items if label_of(item) == label]
            work: dict[str, tuple[Task, list[str]]] = {}
            for item in items:
                if isinstance(item, TaskItem):
                    work.setdefault(item.task.name, (item.task, []))[1].append(item.name)
            checks = [item.name for item in items if isinstance(item, CheckItem)]
            estimates = [item.task for item in items if isinstance(item, EstimateItem)]
            prefetch(runtime, checks, list(work.values()), estimates)
        return runtime


class CheckItem(XaresItem):
    def runtest(self) -> None:
        result = check(self.runtime(), self.name)
        self.user_properties.append(
            (CHECK_PROPERTY, {"check": self.name, "outcome": result.outcome, "seconds": result.seconds})
        )
        if result.outcome == "failed":
            pytest.fail(f"encoder check {self.name!r} failed: {result.message}", pytrace=False)
        if result.outcome == "skipped":
            pytest.skip(result.message)


class TaskItem(XaresItem):
    def __init__(self, task: Task, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        label = label_of(self)
        if label is not None:  # whose result it is, in a run of several encoders
            self.user_properties.append((ENCODER_PROPERTY, label))
        try:
            result = run_item(self.runtime(), self.task, self.name)
        except NotRun as reason:
            self._not_run(str(reason))
        self.user_properties += result_properties(result)
        self._gate(result.score, result.layers.get("selection", "last"))

    def _not_run(self, reason: str) -> NoReturn:
        """Skip with the reason; but a task that the baseline gates must not pass for not running."""
        session = session_of(self.config)
        baseline = session.baseline
        gated = (
            baseline is not None
            and not session.settings.update_baseline
            and self.name in baseline.entries.get(self.task.name, {})
        )
        outcome = "failed" if gated else "skipped"
        if gated:
            reason = f"gated by the baseline {session.settings.baseline} but did not run: {reason}"
        self.user_properties.append((RESULT_PROPERTY, {"task": self.task.name, "method": self.name, outcome: reason}))
        if gated:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)

    def _gate(self, score: float, layers: str = "last") -> None:
        session = session_of(self.config)
        baseline = session.baseline
        if baseline is None or session.settings.update_baseline:
            return
        verdict = baseline.judge(self.task.name, self.name, score, layers=layers)
        self.user_properties.append(
            (BASELINE_PROPERTY, {"task": self.task.name, "method": self.name, "score": score, **asdict(verdict)})
        )
        if verdict.status in ("regressed", "mismatch"):
            pytest.fail(verdict.message(self.task.name, self.name, score), pytrace=False)


class DataItem(XaresItem):
    """``xares::<task>::download`` fetches the task's record unless it is in place;
    ``xares::<task>::verify`` checks its files against the record's checksums. No encoder."""

    def __init__(self, task: Task, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        session = session_of(self.config)
        data_dir = session.settings.data_dir
        progress, zenodo = session.data_source()
        if self.name == "download" and self.task.source is not None:
            pytest.skip(f"{self.task.formal_name} is synthesised on first use: nothing to download")
        try:
            if self.name == "download":
                outcome = ensure_task_data(self.task, data_dir, zenodo)
            else:
                outcome = verify_task_data(self.task, data_dir, zenodo, progress)
        except DownloadError:
            raise  # the point of the run: a failure, not a skip
        except MissingData as missing:
            pytest.skip(str(missing))
        finally:
            progress.close()
        self.user_properties.append((DATA_PROPERTY, outcome.to_dict()))


class EstimateItem(XaresItem):
    """``xares::<task>::estimate`` (``--xares-estimate``): what the task would download, store and
    take on this worker's device; the session prints the table. Nothing is fetched or cached."""

    def __init__(self, task: Task, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        outcome = estimate(self.runtime(), self.task)
        self.user_properties.append((ESTIMATE_PROPERTY, outcome.to_dict()))
