"""How one item runs, the same for the plugin's items, the ``xares_score`` fixture and the Python
API: an encoder check that makes the task's scores meaningless, absent data or an unavailable
model or tokenizer means the item does not run (``NotRun``, with the reason); anything else that
goes wrong is an error."""

from __future__ import annotations

from pytest_xares.engine.runtime import Runtime
from pytest_xares.errors import MissingData, NotRun, Unavailable
from pytest_xares.results.scores import TaskResult
from pytest_xares.task import Task


def run_item(runtime: Runtime, task: Task, method: str) -> TaskResult:
    """The score of ``task`` with ``method``, from the cache or computed now; raises ``NotRun``
    with the reason when the item cannot run here."""
    reason = runtime.gate(task)
    if reason is not None:
        raise NotRun(reason)
    try:
        return runtime.evaluate(task, method)
    except (MissingData, Unavailable) as missing:
        raise NotRun(str(missing)) from None
