"""The suite as pytest nodes: ``xares::encoder::<check>`` and ``xares::<task>::<method>`` items,
or, when a run handles data only, one ``xares::<task>::download`` (or ``::verify``) item per task."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest

from pytest_xares.cache import CacheError
from pytest_xares.data.fetch import ensure_task_data, verify_task_data
from pytest_xares.data.shards import DataError, MissingData
from pytest_xares.data.zenodo import DownloadError, Zenodo
from pytest_xares.encoder import EncoderError
from pytest_xares.progress import Progress
from pytest_xares.results import BASELINE_PROPERTY, RESULT_PROPERTY
from pytest_xares.runtime import CHECK_NAMES, data_source
from pytest_xares.settings import settings_key
from pytest_xares.task import ClipTask, Unavailable

#: Errors whose message says all a user needs: reported without a traceback.
USER_ERRORS = (DataError, EncoderError, CacheError)


class XaresSuite(pytest.Collector):
    """The root of the suite's nodes (``xares``), holding the encoder checks and one node per task.

    ``data_mode`` (``"download"`` or ``"verify"``): no encoder, one data item per task instead."""

    def __init__(self, tasks: list[ClipTask], data_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks
        self.data_mode = data_mode

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        if self.data_mode is None:
            yield EncoderChecks.from_parent(self, name="encoder")
        for task in self.tasks:
            yield TaskNode.from_parent(self, name=task.name, task=task, data_mode=self.data_mode)


class EncoderChecks(pytest.Collector):
    def collect(self) -> Iterator[pytest.Item]:
        for name in CHECK_NAMES:
            item = CheckItem.from_parent(self, name=name)
            item.add_marker("xares")
            item.add_marker("xares_check")
            yield item


class TaskNode(pytest.Collector):
    def __init__(self, task: ClipTask, data_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.data_mode = data_mode

    def collect(self) -> Iterator[pytest.Item]:
        if self.data_mode is not None:
            item = DataItem.from_parent(self, name=self.data_mode, task=self.task)
            item.add_marker("xares")
            item.add_marker("xares_data")
            yield item
            return
        for method in self.task.methods:
            item = TaskItem.from_parent(self, name=method, task=self.task)
            item.add_marker("xares")
            item.add_marker(method)
            # One worker evaluates both methods of a task where xdist groups items (--dist loadgroup).
            item.add_marker(pytest.mark.xdist_group(self.task.name))
            yield item


class XaresItem(pytest.Item):
    def runtime(self) -> Any:
        from pytest_xares.plugin import runtime_of

        return runtime_of(self.config)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, USER_ERRORS):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.nodeid


class CheckItem(XaresItem):
    def runtest(self) -> None:
        result = self.runtime().check(self.name)
        self.user_properties.append(("xares_check", {"check": self.name, "outcome": result.outcome, "seconds": result.seconds}))
        if result.outcome == "failed":
            pytest.fail(f"encoder check {self.name!r} failed: {result.message}", pytrace=False)
        if result.outcome == "skipped":
            pytest.skip(result.message)


class TaskItem(XaresItem):
    def __init__(self, task: ClipTask, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        runtime = self.runtime()
        reason = runtime.gate(self.task)
        if reason is not None:
            self._skip(reason)
        try:
            result = runtime.evaluate(self.task, self.name)
        except (MissingData, Unavailable) as missing:
            self._skip(str(missing))
        self.user_properties.append((RESULT_PROPERTY, result.to_dict()))
        # Flat properties for junit-xml readers.
        self.user_properties += [
            ("xares_score", round(result.score, 6)),
            ("xares_metric", result.metric),
            ("xares_ci95", f"{result.interval[0]:.4f}..{result.interval[1]:.4f}"),
            ("xares_seconds", result.seconds["total"]),
        ] + [(f"xares_{name}", round(value, 6)) for name, value in result.extra.items()]
        self._gate(result.score)

    def _gate(self, score: float) -> None:
        from pytest_xares.plugin import baseline_key

        settings = self.config.stash[settings_key]
        baseline = self.config.stash.get(baseline_key, None)
        if baseline is None or settings.update_baseline:
            return
        verdict = baseline.judge(self.task.name, self.name, score)
        self.user_properties.append((BASELINE_PROPERTY, {"task": self.task.name, "method": self.name, "score": score, **asdict(verdict)}))
        if verdict.status == "regressed":
            pytest.fail(verdict.message(self.task.name, self.name, score), pytrace=False)

    def _skip(self, reason: str) -> None:
        self.user_properties.append((RESULT_PROPERTY, {"task": self.task.name, "method": self.name, "skipped": reason}))
        pytest.skip(reason)


class DataItem(XaresItem):
    """``xares::<task>::download`` fetches the task's record unless it is in place;
    ``xares::<task>::verify`` checks its files against the record's checksums. No encoder."""

    def __init__(self, task: ClipTask, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def runtest(self) -> None:
        from pytest_xares.plugin import DATA_PROPERTY

        data_dir = self.config.stash[settings_key].data_dir
        progress, zenodo = self._data_source()
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

    def _data_source(self) -> tuple[Progress, Zenodo | None]:
        """This process's progress display and Zenodo client (``None`` offline), made once."""
        if _data_source_key not in self.config.stash:
            progress = Progress.for_pytest(self.config)
            self.config.stash[_data_source_key] = (progress, data_source(self.config.stash[settings_key], progress))
        return self.config.stash[_data_source_key]


_data_source_key = pytest.StashKey[tuple]()
