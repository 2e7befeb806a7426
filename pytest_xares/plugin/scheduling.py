"""Under ``-n`` without a ``--dist`` choice: xdist's load balancing, with a task's items sent to one
worker together.

xdist's own grouping (``--dist loadgroup`` and the ``xdist_group`` mark) does not do it here: a
worker appends the ``@group`` suffix it groups by only when its own command line says loadgroup,
and since pytest 9.2 keeps node ids structured, the suffix xdist 3.8 writes is not seen at all
(pytest-dev/pytest-xdist#1386). Its grouping schedulers (loadscope, loadfile, loadgroup) also
start the crashing item again on every replacement worker, or hang, when a worker crashes
(pytest-dev/pytest-xdist#1323, #1327, #1371). So the grouping is read from the ids
(``xares::<task>::<method>``) on the controller, where the scheduler runs, and added to the plain
load scheduler, whose crash handling is sound: the crashing item is reported once, the rest of
its worker's share goes to the others.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]

from pytest_xares.plugin.ids import suite_id


def task_of(nodeid: str) -> str | None:
    """``esc50`` for ``xares::esc50::mlp`` (``<label>::esc50`` for ``xares::<label>::esc50::mlp``, in
    a run of several encoders); ``None`` for an encoder check or a test of the user's."""
    parts = suite_id(nodeid)
    if parts is None or parts[1] == "encoder":
        return None
    return parts[1] if parts[0] is None else f"{parts[0]}::{parts[1]}"


class TaskScheduling(LoadScheduling):
    """``LoadScheduling`` that sends, with every item of a task, its task's other pending items."""

    def _send_tests(self, node: Any, num: int) -> None:
        assert self.collection is not None  # schedule() set it before any item is sent
        chosen = set(self.pending[:num])
        tasks = {task_of(self.collection[i]) for i in chosen} - {None}
        chosen.update(i for i in self.pending if task_of(self.collection[i]) in tasks)
        if not chosen:
            return
        sent = [i for i in self.pending if i in chosen]  # in collection order: the encoding item first
        self.pending[:] = [i for i in self.pending if i not in chosen]
        self.node2pending[node].extend(sent)
        node.send_runtest_some(sent)


class TaskGrouping:
    """Registered on the xdist controller when the user left ``--dist`` to the plugin."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> TaskScheduling:
        return TaskScheduling(config, log)
