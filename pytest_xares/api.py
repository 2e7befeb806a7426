"""The suite from Python: check an encoder, evaluate it on tasks, on the same engine as the plugin.

>>> from pytest_xares import check_encoder, evaluate
>>> from pytest_xares.example_encoders.mel import MelEncoder
>>> report = check_encoder(MelEncoder())          # doctest: +SKIP
>>> bool(report)                                  # doctest: +SKIP
True
>>> results = evaluate(MelEncoder(), tasks=["demo_pitch"])   # doctest: +SKIP
>>> print(results)                                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
from tabulate import tabulate

from pytest_xares.encoder import EncoderError, EncoderSpec
from pytest_xares.engine.policy import run_item
from pytest_xares.engine.progress import Progress
from pytest_xares.engine.runtime import CHECK_NAMES, CheckResult, Runtime
from pytest_xares.errors import NotRun, XaresError
from pytest_xares.results.scores import Results, TaskResult
from pytest_xares.settings import Settings
from pytest_xares.task import METHODS, Task
from pytest_xares.task.registry import SUITE_PACKAGES, load_tasks

EncoderLike = torch.nn.Module | type | str


class EncoderCheckError(XaresError, AssertionError):
    """Raised by ``check_encoder(..., raise_on_failure=True)``; its message is the report."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class CheckReport:
    """The verdict of every interface check; truthy only when none fails (a check may not apply:
    ``hidden_states`` is skipped for an encoder that exposes none)."""

    encoder: str
    checks: dict[str, CheckResult]

    def __bool__(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.checks.items() if result.outcome == "failed"]

    def __str__(self) -> str:
        rows = [[name, result.outcome, result.message] for name, result in self.checks.items()]
        skipped = [name for name, result in self.checks.items() if result.outcome == "skipped"]
        verdict = (
            "all checks passed" + (f" (not applicable: {', '.join(skipped)})" if skipped else "")
            if self
            else f"failed: {', '.join(self.failed)}; see the messages"
        )
        return f"encoder checks of {self.encoder}: {verdict}\n" + tabulate(
            rows, headers=["check", "verdict", "what to fix"]
        )

    __repr__ = __str__


def _runtime(encoder: EncoderLike, progress: bool, **settings: object) -> tuple[Runtime, str]:
    """A runtime around ``encoder``: a module, a class (built with no arguments) or a spec string."""
    if isinstance(encoder, str):
        spec = EncoderSpec.parse(encoder, Path.cwd())
        return Runtime(Settings.with_defaults(encoder=spec, **settings), Progress.for_python(progress)), str(spec)
    if isinstance(encoder, type):
        cls = encoder
        try:
            encoder = cls()
        except (Exception, SystemExit) as error:
            raise EncoderError(f"constructing {cls.__name__}() raised {type(error).__name__}: {error}") from error
    name = f"{type(encoder).__module__}.{type(encoder).__qualname__}"
    # What a class builds need not be a Module: the runtime hands it to the is_module check, which says so.
    module = cast(torch.nn.Module, encoder)
    return Runtime(Settings.with_defaults(**settings), Progress.for_python(progress), encoder=module), name


def check_encoder(
    encoder: EncoderLike,
    *,
    raise_on_failure: bool = False,
    device: str | None = None,
    cache_dir: str | Path | None = None,
) -> CheckReport:
    """Run every interface check of the plugin on ``encoder`` and report each verdict.

    ``raise_on_failure=True`` raises ``EncoderCheckError`` carrying the report when any check
    does not pass.
    """
    runtime, name = _runtime(encoder, progress=False, device=device, cache_dir=cache_dir)
    report = CheckReport(name, {check: runtime.check(check) for check in CHECK_NAMES})
    if raise_on_failure and not report:
        raise EncoderCheckError(report)
    return report


def resolve_tasks(tasks: Iterable[str | Task] | None, suite: str) -> list[Task]:
    """Task definitions for names (of any built-in suite) or the user's own definitions."""
    if tasks is None:
        return load_tasks(suite)
    known = {t.name: t for name in SUITE_PACKAGES for t in load_tasks(name)}
    chosen = []
    for task in tasks:
        if isinstance(task, Task):
            chosen.append(task)
        elif task in known:
            chosen.append(known[task])
        else:
            raise KeyError(f"no task named {task!r}; known tasks: {', '.join(sorted(known))}")
    return chosen


def evaluate(
    encoder: EncoderLike,
    tasks: Iterable[str | Task] | None = None,
    methods: Sequence[str] = METHODS,
    *,
    suite: str = "xares",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    seed: int | None = None,
    seeds: int | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    asr_lm: str | None = None,
    progress: bool = True,
    name: str | None = None,
    meta: Mapping[str, str] | None = None,
    layers: str | None = None,
    frame_layers: str | None = None,
) -> Results:
    """Evaluate ``encoder`` on ``tasks`` (names or definitions; default: all of ``suite``).

    Uses the same data directory, cache, probes and seed as ``pytest --xares-encoder``, so a
    score from here and from the plugin agree. Tasks whose data is absent are listed in
    ``results.skipped`` with the reason. Raises ``EncoderError`` when a check that makes
    evaluation meaningless fails. ``name`` and ``meta`` label the results as ``--xares-name`` and
    ``--xares-meta`` do; ``seeds=N`` trains each head with N seeds as ``--xares-seeds`` does;
    ``layers`` and ``frame_layers`` ("all", "weighted", "3,6,12") choose the layers scored as
    ``--xares-layers`` and ``--xares-frame-layers`` do.
    """
    chosen = resolve_tasks(tasks, suite)
    runtime, spec = _runtime(
        encoder,
        progress,
        data_dir=data_dir,
        cache_dir=cache_dir,
        seed=seed,
        seeds=seeds,
        device=device,
        batch_size=batch_size,
        asr_lm=asr_lm,
        layers=layers,
        frame_layers=frame_layers,
    )
    reason = runtime.gate()
    if reason is not None:
        raise EncoderError(reason)
    collected: list[TaskResult] = []
    skipped: dict[str, str] = {}
    for task in chosen:
        for method in (m for m in task.methods if m in methods):
            try:
                collected.append(run_item(runtime, task, method))
            except NotRun as reason:
                skipped[f"{task.name}::{method}"] = str(reason)
    return Results(
        collected, {t.name: t for t in chosen}, skipped, spec, runtime.settings.seed, name=name, meta=dict(meta or {})
    )
