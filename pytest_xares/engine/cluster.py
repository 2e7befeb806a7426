"""The suite's work on a Ray cluster (``--xares-ray``), with the pytest session as the controller.

- The session is the Ray driver. It collects, orders and reports the items as a local run does,
  and never builds the encoder: ``local`` starts Ray on this machine, ``auto`` joins the cluster
  this machine belongs to, anything else is the head's address (``host:port``, ``ray://host:port``).
- When the first item runs, everything selected is submitted at once, so the cluster works on all
  of it while the items wait in their order: one Ray task for the encoder checks, and one per
  selected task that runs each of its selected methods in turn (data, encoding, heads, score; so
  the second method reads the embeddings the first stored). The task's Ray task takes the checks'
  verdicts as an argument: it starts once they are in, and they gate it as they gate a local run.
- What a Ray task asks for (``placement``): one CPU; or, where the encoder runs on a GPU
  (``--xares-device=cuda…``, or ``auto`` on a cluster with GPUs), one GPU and the CPUs that come
  with one on the cluster's GPU nodes (for the decoders). A Ray task whose worker or node dies is
  run again by Ray (``RETRIES`` times), elsewhere where it must; whatever the dead one was writing
  was never renamed into place (``files.write_atomic``), so nothing half-written is read.
- The encoder is rebuilt on the worker from its spec. A file spec's folder goes with the job (Ray's
  ``runtime_env`` ``working_dir``: the workers run in a copy of it) when it is small
  (``folder_to_ship``); a larger one must be at the same path on every node, as a module spec
  must be importable there. Task definitions travel with the Ray task (those of a tasks folder by
  value), so a ``--xares-tasks-dir`` need not be on the nodes.
- What goes wrong on a worker comes back as it would locally (``outcome_of`` there, ``unpack``
  here): ``NotRun`` (a skip with the reason), the engine's errors (``XaresError``: a failure with
  its message), anything else with the worker's traceback; a Ray task that never came back is a
  ``ClusterError``.

Ray is imported only here, and only once a run asks for it.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import socket
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_xares.errors import NotRun, UsageError, XaresError

if TYPE_CHECKING:
    from pytest_xares.encoder import EncoderSpec
    from pytest_xares.engine.progress import Progress
    from pytest_xares.settings import Settings
    from pytest_xares.task import Task

#: How often Ray runs a task again whose worker process or node died.
RETRIES = 3
#: The most an encoder's folder may hold to be shipped with the job: bytes, files.
SHIP_BYTES, SHIP_FILES = 100 * 2**20, 2000
#: Folders never shipped, nor counted (Ray's ``excludes``, gitignore patterns).
NOT_SHIPPED = (".git", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache")

#: What a worker sends back for one call: ``("value", v)``, ``("not_run", reason)``,
#: ``("error", XaresError)`` or ``("bug", text with the worker's traceback)``.
Outcome = tuple[str, Any]


class ClusterError(XaresError):
    """The Ray cluster cannot be reached, or a Ray task did not come back (its worker or node died
    more often than Ray retries); the message says which and what Ray said."""


class RemoteError(XaresError):
    """Something unexpected raised on a Ray worker; the message carries the worker's traceback."""


@dataclass(frozen=True)
class Placement:
    """What each Ray task asks for, and the device its worker evaluates on."""

    cpus: int
    gpus: int
    device: str


def placement(device: str, nodes: Sequence[Mapping[str, float]]) -> Placement:
    """The resources of one Ray task for ``--xares-device=device`` on a cluster of ``nodes`` (each
    node's resources, as ``ray.nodes()`` gives them). A GPU task gets the GPU Ray assigns it, which
    is ``cuda`` in the worker (Ray sets ``CUDA_VISIBLE_DEVICES``)."""
    gpu_nodes = [node for node in nodes if node.get("GPU", 0) >= 1]
    if not (device.startswith("cuda") or (device == "auto" and gpu_nodes)):
        return Placement(1, 0, "cpu" if device == "auto" else device)
    if not gpu_nodes:
        raise UsageError(
            f"--xares-device={device} puts the encoder on a GPU, but no node of the Ray cluster has one: "
            "use --xares-device=auto or cpu, or add GPU nodes"
        )
    cpus = min(int(node.get("CPU", 0) // node["GPU"]) for node in gpu_nodes)
    return Placement(max(1, cpus), 1, "cuda")


def folder_to_ship(spec: EncoderSpec | None) -> Path | None:
    """The folder of an encoder file, when it holds at most ``SHIP_BYTES`` in ``SHIP_FILES`` files
    (``NOT_SHIPPED`` folders aside); ``None`` for a module spec or a larger folder."""
    if spec is None or not spec.is_file:
        return None
    folder = Path(spec.target).parent
    size = files = 0
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if name not in NOT_SHIPPED]
        for name in names:
            files += 1
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
            if size > SHIP_BYTES or files > SHIP_FILES:
                return None
    return folder


def answers(address: str, timeout: float = 10.0) -> None:
    """Raise ``ClusterError`` unless something listens at a ``host:port`` address (Ray itself would
    retry for minutes); ``local``, ``auto`` and ``ray://`` addresses are left to Ray."""
    if address in ("local", "auto") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout).close()
    except OSError as error:
        raise ClusterError(
            f"--xares-ray={address}: nothing answers there ({error.strerror or error}); start the cluster's head "
            f"there (ray start --head --port={port}) or give its address"
        ) from None


def node_name() -> str:
    return f"{socket.gethostname()} (pid {os.getpid()})"


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run ``call`` on a worker and say how it went, in a form that travels back (``unpack``)."""
    try:
        return "value", call()
    except NotRun as reason:
        return "not_run", str(reason)
    except XaresError as error:
        try:  # a subclass with an __init__ of its own may not come back whole: its message does
            portable = pickle.loads(pickle.dumps(error))
        except Exception:
            portable = XaresError(str(error))
        return "error", portable
    except Exception as error:
        return "bug", f"{type(error).__name__}: {error} (on the Ray node {node_name()})\n{traceback.format_exc()}"


def unpack(outcome: Outcome) -> Any:
    """The value a worker sent back, or what it raised, raised here."""
    kind, value = outcome
    if kind == "value":
        return value
    if kind == "not_run":
        raise NotRun(value)
    if kind == "error":
        raise value
    raise RemoteError(value)


def on_worker(
    entry: Callable[..., Any],
    settings: Settings,
    shipped: str | None,
    checked: Sequence[str],
    verdicts: Sequence[Outcome] | None,
    verb: str,
    calls: list[tuple[Any, ...]],
) -> list[Outcome]:
    """The body of every Ray task: ``entry(settings, shipped, known, verb, *call)`` for each call,
    with ``known`` the verdicts of the ``checked`` checks that came back (Ray hands ``verdicts`` in
    once their Ray task is done) and torch's threads set to the CPUs Ray gave the task."""
    import ray
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    known = {name: value for name, (kind, value) in zip(checked, verdicts or []) if kind == "value"}
    return [outcome_of(functools.partial(entry, settings, shipped, known, verb, *call)) for call in calls]


class Cluster:
    """The controller's side: connects on first use, submits the run's work, waits for results.

    ``entry`` is the worker's side (``engine.policy.on_worker``), handed in so that this module
    needs nothing of the engine; it is called on a worker as ``entry(settings, shipped, verdicts,
    verb, *call)`` for the verbs ``check`` (a name), ``item`` (a task and a method) and ``estimate``
    (a task), ``verdicts`` being the checks' results by name.
    """

    def __init__(self, settings: Settings, progress: Progress, entry: Callable[..., Any]) -> None:
        self.settings = settings
        self.progress = progress
        self.entry = entry
        self._ray: Any = None
        self._remote: Any = None
        self._worker_settings = settings
        self._shipped: str | None = None
        self._checks: dict[str, Any] = {}  # check name → ObjectRef of the Ray task that runs it
        self._gate: tuple[list[str], Any] = ([], None)  # the checks every task's Ray task waits for
        self._items: dict[tuple[str, str], tuple[Any, int]] = {}  # (task, method) → (ObjectRef, index)
        self._estimates: dict[str, Any] = {}
        self._done: dict[int, list[Outcome]] = {}  # id of an ObjectRef → what it returned
        self._failed: XaresError | None = None

    # Connecting --------------------------------------------------------------------------------

    def connect(self) -> None:
        """Join the cluster (once: a failure is raised again to every later item, not retried)."""
        if self._ray is not None:
            return
        if self._failed is not None:
            raise self._failed
        try:
            self._ray = self._connect()
        except XaresError as error:
            self._failed = error
            raise

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError as error:
            raise UsageError(f"--xares-ray needs Ray: pip install 'pytest-xares[ray]' ({error})") from None
        from ray import cloudpickle

        for name, module in list(sys.modules.items()):
            if name.startswith("_xares_user_task"):  # a tasks folder need not be on the nodes
                cloudpickle.register_pickle_by_value(module)
        address = self.settings.ray
        assert address is not None and self.settings.encoder is not None  # the plugin's runs have both
        # Where Ray already runs in this process (a script's own ray.init), its job is used as it is.
        folder = None if ray.is_initialized() else folder_to_ship(self.settings.encoder)
        try:
            if not ray.is_initialized():
                answers(address)
                ray.init(
                    address=address,
                    runtime_env={"working_dir": str(folder), "excludes": list(NOT_SHIPPED)} if folder else None,
                    log_to_driver=False,  # the workers' lines stay in the nodes' Ray logs
                    logging_level=logging.WARNING,
                )
            nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        except XaresError:
            raise
        except Exception as error:  # cannot connect, a folder Ray refuses to ship, …
            raise ClusterError(
                f"--xares-ray={address}: cannot use the Ray cluster: {type(error).__name__}: {error}"
            ) from None
        where = placement(self.settings.device, nodes)
        if folder is not None:
            self._shipped = str(Path(self.settings.encoder.target).relative_to(folder))
        self._worker_settings = replace(self.settings, ray=None, device=where.device)
        options: dict[str, Any] = {"num_cpus": where.cpus, "max_retries": RETRIES, "retry_exceptions": False}
        options["scheduling_strategy"] = "SPREAD"  # each is long work: over all the nodes, not packed on a few
        if where.gpus:
            # Ray ends a GPU task's worker after each task by default: the built encoder is kept instead.
            options.update(num_gpus=where.gpus, max_calls=0)
        self._remote = ray.remote(**options)(on_worker)
        return ray

    def _submit(self, verb: str, calls: list[tuple[Any, ...]], gate: tuple[list[str], Any] = ([], None)) -> Any:
        self.connect()
        checked, verdicts = gate
        return self._remote.remote(self.entry, self._worker_settings, self._shipped, checked, verdicts, verb, calls)

    # Submitting the run's work -----------------------------------------------------------------

    def submit(
        self, checks: Sequence[str], work: Sequence[tuple[Task, Sequence[str]]], estimates: Sequence[Task]
    ) -> None:
        """Start everything at once: the ``checks`` (one Ray task), each of ``work``'s tasks with its
        methods (one Ray task each, after the checks) and the ``estimates`` (one Ray task each)."""
        wanted = [name for name in checks if name not in self._checks]
        if wanted:
            ref = self._submit("check", [(name,) for name in wanted])
            self._checks.update(dict.fromkeys(wanted, ref))
            if self._gate[1] is None:
                self._gate = (wanted, ref)
        for task, methods in work:
            todo = [method for method in methods if (task.name, method) not in self._items]
            if todo:
                ref = self._submit("item", [(task, method) for method in todo], self._gate)
                self._items.update({(task.name, method): (ref, i) for i, method in enumerate(todo)})
        for task in estimates:
            if task.name not in self._estimates:
                self._estimates[task.name] = self._submit("estimate", [(task,)])

    # Waiting for results -----------------------------------------------------------------------

    def check(self, name: str) -> Any:
        """The verdict of one encoder check (a ``CheckResult``), from the cluster."""
        if name not in self._checks:
            self.submit([name], [], [])
        ref = self._checks[name]
        names = [n for n, r in self._checks.items() if r is ref]
        return unpack(self._wait(ref, "the encoder checks")[names.index(name)])

    def item(self, task: Task, method: str, checks: Sequence[str]) -> Any:
        """The result of ``task`` with ``method`` (a ``TaskResult``), from the cluster; raises
        ``NotRun`` or the error that the worker raised."""
        if (task.name, method) not in self._items:
            self.submit(checks, [(task, [method])], [])
        ref, index = self._items[(task.name, method)]
        return unpack(self._wait(ref, f"{task.name}")[index])

    def estimate(self, task: Task) -> Any:
        if task.name not in self._estimates:
            self.submit([], [], [task])
        return unpack(self._wait(self._estimates[task.name], f"the estimate of {task.name}")[0])

    def _wait(self, ref: Any, what: str) -> list[Outcome]:
        if id(ref) not in self._done:
            try:
                with self.progress.busy(f"{what} on the Ray cluster"):
                    self._done[id(ref)] = self._ray.get(ref)
            except self._ray.exceptions.RayError as error:
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise ClusterError(
                    f"{what} did not come back from the Ray cluster ({type(error).__name__}, after {RETRIES} "
                    f"retries where its worker or node died): {first}"
                ) from None
        return self._done[id(ref)]
