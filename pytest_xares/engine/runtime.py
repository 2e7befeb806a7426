"""Per-process state of a run: the encoder (built once, lazily) and its check results.

Exactly the processes that run items build an encoder: each xdist worker, or the single process
without xdist; never an xdist controller, and never at collection.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from pytest_xares.cache.housekeeping import UsageRecorder
from pytest_xares.cache.keys import check_key
from pytest_xares.cache.store import Cache
from pytest_xares.data.transfer import Listener
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.encoder import EncoderError, EncoderSpec, LoadedEncoder, build, checks
from pytest_xares.encoder.fingerprint import fingerprint
from pytest_xares.encoder.layers import LayerError
from pytest_xares.engine.estimate import Estimate, estimate_task
from pytest_xares.engine.evaluate import evaluate, layer_selection
from pytest_xares.engine.plan import Sizes
from pytest_xares.engine.progress import Progress
from pytest_xares.heads import stores_frames
from pytest_xares.results.scores import TaskResult
from pytest_xares.settings import Settings
from pytest_xares.task import Task

LOAD_CHECK = "loads"
CHECK_NAMES = (LOAD_CHECK, *checks.CHECKS)
#: The check of the hidden states, which only runs scored on other layers than the last need.
LAYER_CHECK = "hidden_states"


def checks_of_run(settings: Settings) -> tuple[str, ...]:
    """The checks a run has as items: all, but the hidden states' only where it scores other
    layers than the last (``--xares-layers``, ``--xares-frame-layers``)."""
    layered = not (settings.layers.last and settings.frame_layers.last)
    return tuple(name for name in CHECK_NAMES if layered or name != LAYER_CHECK)


#: The checks that ``Runtime.gate`` may ask for: the gating ones, the hop of a frame-level task,
#: and the hidden states of a task scored on other layers than the last.
GATE_CHECKS = tuple(n for n in CHECK_NAMES if n in (LOAD_CHECK, "hop_size", LAYER_CHECK) or checks.CHECKS[n].gating)


@dataclass(frozen=True)
class CheckResult:
    outcome: str  # "passed", "failed" or "skipped"
    message: str = ""
    seconds: float = 0.0
    #: What the check found out about the encoder: ``hidden_states`` its number of ``layers``.
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in ("passed", "failed", "skipped") or not isinstance(self.message, str):
            raise ValueError(f"not a check verdict: {self!r}")


def worker_index() -> tuple[int, int]:
    """(this worker's index, number of workers): (0, 1) without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return (int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0), max(count, 1)


def choose_device(requested: str) -> torch.device:
    """``auto``: worker K takes GPU K mod count when there are GPUs, else the CPU."""
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", worker_index()[0] % torch.cuda.device_count())
    return torch.device("cpu")


def share_cores() -> None:
    """Give each xdist worker its share of the cores, so N workers do not oversubscribe them."""
    _index, count = worker_index()
    if count > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // count))


def data_source(settings: Settings, listener: Listener) -> Zenodo | None:
    """Where absent task data is fetched from: the Zenodo server or mirror, or nowhere when offline."""
    return None if settings.offline else Zenodo(settings.zenodo_url, listener)


@functools.cache
def exit_without_collecting() -> None:
    """Let this process exit without the interpreter's final garbage collections.

    Once torch is loaded they walk its 200 000 objects for up to a second at every exit, longer
    than a warm run spends on its items. The memory goes back with the process either way;
    ``gc.freeze`` in an exit handler only tells the collector to leave it alone.
    """
    atexit.register(gc.freeze)


class Runtime:
    """The encoder of this process and the engine's verbs on it, for the plugin and the Python API.

    ``encoder`` is an already built module (the Python API); without it the module is built
    from ``settings.encoder`` on first use, or from ``source`` where the spec's file is elsewhere
    in this process (a Ray worker's copy of it); ``context`` ends the message of a failed build.
    """

    def __init__(self, settings: Settings, progress: Progress, encoder: torch.nn.Module | None = None) -> None:
        assert encoder is not None or settings.encoder is not None
        self.settings = settings
        self.given = encoder
        self.cache = Cache(settings.cache_dir)
        self.progress = progress
        self.zenodo = data_source(settings, progress)
        self._loaded: LoadedEncoder | None = None
        self._load_error: str | None = None
        self._checks: dict[str, CheckResult] = {}
        self._timings: dict[tuple[int, int], float] = {}  # forward passes timed for estimates
        self._attributes: dict[str, Any] | None = None
        self._layer_count: int | None = None  # the encoder's hidden states, for estimates
        self._usage: UsageRecorder | None = None
        self.source: EncoderSpec | None = None
        self.context = ""

    def encoder(self) -> LoadedEncoder:
        """The built encoder in eval mode on this process's device; raises ``EncoderError``."""
        if self._loaded is None and self._load_error is None:
            try:
                self._loaded = self._build()
            except EncoderError as error:
                self._load_error = f"{error}{self.context}"
        if self._load_error is not None:
            raise EncoderError(self._load_error)
        assert self._loaded is not None
        return self._loaded

    def _build(self) -> LoadedEncoder:
        exit_without_collecting()
        if self.given is not None:
            module = self.given
        else:
            assert self.settings.encoder is not None  # __init__ made sure of an encoder or its spec
            module = build(self.source or self.settings.encoder)
        device = choose_device(self.settings.device)
        if device.type == "cuda":
            # This worker's GPU becomes the current one, before anything touches CUDA: no worker
            # opens a context on GPU 0 besides its own, and what uses the current device (an
            # encoder's own .cuda(), empty_cache after running out of memory) uses its GPU.
            torch.cuda.set_device(device)
        if not isinstance(module, torch.nn.Module):
            return LoadedEncoder(module, "", device)  # the is_module check reports it
        fp = fingerprint(module)
        try:
            module = module.eval().to(device)
        except Exception as error:  # a CUDA error, an odd override of .to()
            raise EncoderError(f"moving the encoder to {device} raised {type(error).__name__}: {error}") from error
        return LoadedEncoder(module, fp, device)

    def release(self) -> bool:
        """Let the built encoder go (a run of several encoders holds one at a time); it is built
        again when next needed, its checks' verdicts kept. Whether there was one to let go."""
        if self._loaded is None:
            return False
        device = self._loaded.device
        self._loaded = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return True

    def check(self, name: str) -> CheckResult:
        """The verdict of one interface check, computed once per encoder and cached on disk."""
        if name not in self._checks:
            self._checks[name] = self._run_check(name)
            self._record_use("checks")
        return self._checks[name]

    def adopt(self, verdicts: dict[str, CheckResult]) -> None:
        """Take the verdicts of checks run elsewhere on this encoder (a Ray task of the same run)."""
        for name, result in verdicts.items():
            self._checks.setdefault(name, result)

    def _record_use(self, group: str) -> None:
        """Note in the cache that this encoder used the entries it just touched (``xares cache``)."""
        if self._loaded is None:
            return
        if self._usage is None:
            spec = str(self.settings.encoder) if self.settings.encoder else type(self._loaded.module).__name__
            self._usage = UsageRecorder(self.cache, self._loaded.fingerprint, spec)
        self._usage.record(group)

    def _run_check(self, name: str) -> CheckResult:
        try:
            loaded = self.encoder()
        except EncoderError as error:
            if name == LOAD_CHECK:
                return CheckResult("failed", str(error))
            return CheckResult("skipped", f"the encoder did not load: {error}")
        if name == LOAD_CHECK:
            return CheckResult("passed")
        check = checks.CHECKS[name]
        for needed in check.needs:
            if self.check(needed).outcome != "passed":
                return CheckResult("skipped", f"needs the {needed!r} check, which did not pass")
        path = self.cache.path("checks", name, check_key(loaded.fingerprint, loaded.device.type), ".json")

        def load(stored: Path) -> CheckResult:
            entry = self.cache.read_entry(stored, lambda value: CheckResult(**value))
            # A damaged entry, or one of another layout, is checked again.
            return self._compute_check(check, loaded, stored) if entry is None else entry

        result, _ = self.cache.get_or_create(path, load, lambda p: self._compute_check(check, loaded, p))
        return result

    def _compute_check(self, check: checks.Check, loaded: LoadedEncoder, path: Path) -> CheckResult:
        started = time.perf_counter()
        try:
            with self.progress.busy(f"encoder check {check.name!r}"):  # a 10-minute input can take minutes
                found = check.run(loaded.module, loaded.device)
            result = CheckResult("passed", seconds=time.perf_counter() - started, detail=found or {})
        except checks.CheckFailure as failure:
            result = CheckResult("failed", str(failure), time.perf_counter() - started)
        except checks.CheckSkipped as reason:
            result = CheckResult("skipped", str(reason), time.perf_counter() - started)
        if loaded.fingerprint:
            self.cache.write_entry(path, asdict(result))
        return result

    def evaluate(self, task: Task, method: str) -> TaskResult:
        """The item's result (cached or computed), with the encoder's attributes for the results file."""
        sizes = Sizes(self.settings.cache_dir, self.settings.data_dir)
        self.progress.start_task(task, {pattern: size.clips for pattern, size in sizes.known(task).items()})
        try:
            loaded = self.encoder()
            result = evaluate(task, method, loaded, self.cache, self.settings, self.progress, self.zenodo)
        finally:
            self.progress.close()
            self.progress.task_done(task.name)  # encoded, or never to be: either way not left to do
        if not result.cached:
            sizes.record(task, result.details.get("encoded", {}))
        self._record_use(task.name)
        return replace(result, encoder_attributes=self.attributes())

    def estimate(self, task: Task) -> Estimate:
        """What evaluating ``task`` would download, store and take here (``--xares-estimate``):
        the encoder is built and timed on this process's device; nothing is fetched, encoded or cached."""
        try:
            return estimate_task(
                task,
                self.encoder(),
                self.settings.data_dir,
                self.zenodo,
                self.settings.batch_size,
                self._timings,
                self._layers_held(task),
            )
        finally:
            self.progress.close()

    def _layers_held(self, task: Task) -> tuple[int, int]:
        """How many layers the task's entries hold, pooled and frame by frame (``stored_layers``):
        as many as the encoder exposes (counted as the ``hidden_states`` check counts them, whose
        verdict an estimate does not store), 1 for the last layer or where they cannot be had."""
        selection = layer_selection(task, self.settings)
        if selection.last:
            return 1, 1
        if self._layer_count is None:
            loaded = self.encoder()
            try:
                found = checks.CHECKS[LAYER_CHECK].run(loaded.module, loaded.device) or {}
            except (checks.CheckFailure, checks.CheckSkipped):
                found = {}
            self._layer_count = int(found.get("layers", 1))
        count = self._layer_count
        try:
            return count, len(selection.chosen(count))
        except LayerError:
            return count, 1

    def attributes(self) -> dict[str, Any]:
        """The encoder's declared attributes and its number of parameters (counted once)."""
        if self._attributes is None:
            module = self.encoder().module
            declared = {name: getattr(module, name, None) for name in ("sampling_rate", "output_dim", "hop_size_in_ms")}
            self._attributes = {
                **{name: v if isinstance(v, (int, float)) else repr(v) for name, v in declared.items()},
                "parameters": sum(p.numel() for p in module.parameters()),
            }
        return self._attributes

    def gate(self, task: Task | None = None) -> str | None:
        """Why task items (of ``task``) cannot run (a gating check did not pass), or ``None``.

        A frame-level or speech task also needs a correct hop: its targets are placed on the
        frames by ``hop_size_in_ms``. Mean pooling does not care, so clip tasks run without it.
        A task scored on layers other than the last needs the hidden states the encoder exposes
        (``hidden_states`` passed), and as many as it asks for."""
        frames = task is not None and stores_frames(task)
        selection = None if task is None else layer_selection(task, self.settings)
        layered = None if selection is None or selection.last else selection  # the layers it scores
        for name in CHECK_NAMES:
            gating = checks.CHECKS[name].gating if name != LOAD_CHECK else True
            needed = (name == "hop_size" and frames) or (name == LAYER_CHECK and layered is not None)
            if gating or needed:
                result = self.check(name)
                if result.outcome != "passed":
                    return f"encoder check {name!r} did not pass: {result.message}"
        if layered is not None:
            try:
                layered.chosen(int(self.check(LAYER_CHECK).detail.get("layers", 0)))
            except LayerError as error:
                return str(error)
        return None
