"""How one item runs, the same for the plugin's items, the ``xares_score`` fixture and the Python
API: an encoder check that makes the task's scores meaningless, absent data or an unavailable
model or tokenizer means the item does not run (``NotRun``, with the reason); anything else that
goes wrong is an error.

With ``--xares-ray`` the same happens on a worker of the Ray cluster (``engine.cluster``): this
process's ``run_item``, ``check`` and ``estimate`` wait for the worker's answer, and ``on_worker``
is what the worker runs, with a ``Runtime`` of its own that builds the encoder there.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from pytest_xares.engine.cluster import Cluster, node_name
from pytest_xares.engine.estimate import Estimate
from pytest_xares.engine.progress import Progress
from pytest_xares.engine.runtime import GATE_CHECKS, CheckResult, Runtime
from pytest_xares.errors import MissingData, NotRun, Unavailable, UsageError
from pytest_xares.results.scores import TaskResult
from pytest_xares.settings import Settings
from pytest_xares.task import Task

_clusters: WeakKeyDictionary[Runtime, Cluster] = WeakKeyDictionary()


def cluster_of(runtime: Runtime) -> Cluster | None:
    """The Ray cluster that does ``runtime``'s work (``--xares-ray``), or ``None``: the work is done here."""
    if runtime.settings.ray is None:
        return None
    if runtime.given is not None:
        raise UsageError(
            "--xares-ray builds the encoder on the cluster's workers from its spec: give the encoder as "
            "'path.py' or 'package.module:Class', not as a built module (or leave out XARES_RAY)"
        )
    if runtime not in _clusters:
        _clusters[runtime] = Cluster(runtime.settings, runtime.progress, on_worker)
    return _clusters[runtime]


def run_item(runtime: Runtime, task: Task, method: str) -> TaskResult:
    """The score of ``task`` with ``method``, from the cache or computed now; raises ``NotRun``
    with the reason when the item cannot run here."""
    cluster = cluster_of(runtime)
    if cluster is not None:
        return cluster.item(task, method, GATE_CHECKS)  # gated on the worker, by the same checks
    reason = runtime.gate(task)
    if reason is not None:
        raise NotRun(reason)
    try:
        return runtime.evaluate(task, method)
    except (MissingData, Unavailable) as missing:
        raise NotRun(str(missing)) from None


def check(runtime: Runtime, name: str) -> CheckResult:
    """The verdict of one encoder check, here or on the cluster."""
    cluster = cluster_of(runtime)
    return runtime.check(name) if cluster is None else cluster.check(name)


def estimate(runtime: Runtime, task: Task) -> Estimate:
    """``--xares-estimate`` of one task, timed here or on a worker of the cluster."""
    cluster = cluster_of(runtime)
    return runtime.estimate(task) if cluster is None else cluster.estimate(task)


def prefetch(
    runtime: Runtime, checks: Sequence[str], work: Sequence[tuple[Task, Sequence[str]]], estimates: Sequence[Task]
) -> None:
    """On a cluster, start the run's work at once (the checks, every task with its methods, the
    estimates), for the items to wait for in turn; here, nothing: each item does its own."""
    cluster = cluster_of(runtime)
    if cluster is not None:
        cluster.submit(
            [*GATE_CHECKS, *(n for n in checks if n not in GATE_CHECKS)] if work else checks, work, estimates
        )


# On a Ray worker ---------------------------------------------------------------------------------

#: This worker process's runtime, kept between the Ray tasks of one run (the encoder built once).
_worker: list[tuple[Settings, str | None, Runtime]] = []


def worker_runtime(settings: Settings, shipped: str | None) -> Runtime:
    """The runtime of this Ray worker for ``settings``: the encoder built from its spec, from the
    copy of its folder the worker runs in when it was ``shipped`` with the job."""
    if not (_worker and _worker[0][:2] == (settings, shipped)):
        runtime = Runtime(settings, Progress(sys.stderr, live=False, worker=f"ray {node_name()}", interval=30.0))
        spec = settings.encoder
        if spec is not None and shipped is not None:
            runtime.source = replace(spec, target=str(Path.cwd() / shipped))
        elif spec is not None and spec.is_file:
            runtime.context = (
                f" (on the Ray node {node_name()}: the encoder's folder is too large to go with the job, so the "
                "file must be at this path on every node: put it on a folder they share)"
            )
        _worker[:] = [(settings, shipped, runtime)]
    return _worker[0][2]


def on_worker(settings: Settings, shipped: str | None, verdicts: dict[str, CheckResult], verb: str, *call: Any) -> Any:
    """What a Ray task runs for one call: ``check`` (a name), ``item`` (a task and a method, gated
    by ``verdicts``, the checks' results of the run) or ``estimate`` (a task)."""
    runtime = worker_runtime(settings, shipped)
    runtime.adopt(verdicts)
    if verb == "check":
        return runtime.check(*call)
    if verb == "item":
        return run_item(runtime, *call)
    if verb == "estimate":
        return runtime.estimate(*call)
    raise ValueError(f"no such verb: {verb!r}")
