"""The suite as pytest nodes: ``xares::encoder::<check>`` and ``xares::<task>::<method>`` items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_xares.cache import CacheError
from pytest_xares.data.shards import DataError, MissingData
from pytest_xares.encoder import EncoderError
from pytest_xares.runtime import CHECK_NAMES
from pytest_xares.task import ClipTask

#: Errors whose message says all a user needs: reported without a traceback.
USER_ERRORS = (DataError, EncoderError, CacheError)
RESULT_PROPERTY = "xares"


class XaresSuite(pytest.Collector):
    """The root of the suite's nodes (``xares``), holding the encoder checks and one node per task."""

    def __init__(self, tasks: list[ClipTask], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tasks = tasks

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        yield EncoderChecks.from_parent(self, name="encoder")
        for task in self.tasks:
            yield TaskNode.from_parent(self, name=task.name, task=task)


class EncoderChecks(pytest.Collector):
    def collect(self) -> Iterator[pytest.Item]:
        for name in CHECK_NAMES:
            item = CheckItem.from_parent(self, name=name)
            item.add_marker("xares")
            item.add_marker("xares_check")
            yield item


class TaskNode(pytest.Collector):
    def __init__(self, task: ClipTask, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task

    def collect(self) -> Iterator[pytest.Item]:
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
        reason = runtime.gate()
        if reason is not None:
            self._skip(reason)
        try:
            result = runtime.evaluate(self.task, self.name)
        except MissingData as missing:
            self._skip(str(missing))
        self.user_properties.append((RESULT_PROPERTY, result.to_dict()))

    def _skip(self, reason: str) -> None:
        self.user_properties.append((RESULT_PROPERTY, {"task": self.task.name, "method": self.name, "skipped": reason}))
        pytest.skip(reason)
