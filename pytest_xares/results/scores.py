"""Results of a run: one ``TaskResult`` per task and method, and the weighted averages over them.

Results hold builtin types only: they travel from xdist workers to the controller inside test
reports, are cached as JSON, and are written to the results file as they are.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_xares.cache.keys import PROTOCOL_VERSION
from pytest_xares.files import write_atomic
from pytest_xares.results.references import reference
from pytest_xares.task import METHODS, Task
from pytest_xares.version import __version__


@dataclass
class TaskResult:
    task: str
    method: str
    metric: str
    score: float
    fold_scores: list[float]
    interval: tuple[float, float] | list[float]  # 95 % bootstrap interval over the test clips
    samples: dict[str, int]  # train / test sample counts (summed over folds)
    seconds: dict[str, float]  # data, encode, wait (for another process's encoding), probe, total
    bytes_stored: int
    encoder_fingerprint: str
    device: str
    seed: int
    cached: bool = False
    #: Figures reported beside the score (a regression's MSE, the WER of speech recognition).
    extra: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    #: Per fold, the test clips' keys and what the score is computed from clip by clip, compressed
    #: (``results.paired``): what ``xares compare`` resamples. ``None`` in older results files.
    per_clip: list[dict[str, Any]] | None = None
    #: The encoder's declared ``sampling_rate``, ``output_dim``, ``hop_size_in_ms`` and its
    #: ``parameters`` (count), as the process that ran the item found them.
    encoder_attributes: dict[str, Any] = field(default_factory=dict)
    #: With ``--xares-seeds=N`` (N > 1): each seed's score (the mean over folds), for the seeds
    #: ``seed``, ``seed + 1``, …; ``score`` and ``fold_scores`` are their means. Empty for one seed.
    seed_scores: list[float] = field(default_factory=list)
    #: With ``--xares-layers`` other than ``last``: ``selection``, the ``layers`` scored, and per
    #: layer its ``scores`` and ``valid`` scores with the ``chosen`` one (whose score is ``score``:
    #: ``all`` or a list), or the learned ``weights`` (``weighted``). Empty for the last layer.
    layers: dict[str, Any] = field(default_factory=dict)

    @property
    def seed_std(self) -> float | None:
        """The standard deviation of the score over seeds (n - 1 in the denominator); ``None`` for one seed."""
        return statistics.stdev(self.seed_scores) if len(self.seed_scores) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        """Read back what ``to_dict`` wrote; raises ``TypeError`` or ``ValueError`` for anything else."""
        result = cls(**data)
        numbers = [result.score, *result.fold_scores, *result.interval, *result.seed_scores]
        if (
            not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers)
            or len(result.interval) != 2
        ):
            raise ValueError(f"a result of {result.task!r} whose scores are not numbers: {data!r}")
        if not all(isinstance(x, str) for x in (result.task, result.method, result.metric)):
            raise ValueError(f"a result whose task, method or metric is not a name: {data!r}")
        return result


@dataclass(frozen=True)
class Average:
    method: str
    scope: str  # "public" or "all"
    score: float | None
    reference: float | None
    tasks: tuple[str, ...]
    #: With several seeds: the standard deviation over seeds of the weighted average of each seed's scores.
    std: float | None = None


def averages(results: Iterable[TaskResult], tasks: Mapping[str, Task | TaskInfo]) -> list[Average]:
    """Weighted averages per method over the public tasks and over all tasks that ran.

    The reference average uses the published score of each covered task with the same weights,
    over the tasks that have one.
    """
    results = list(results)
    rows = []
    for method in METHODS:
        for scope in ("public", "all"):
            chosen = [
                r
                for r in results
                if r.method == method and tasks[r.task].averaged and (scope == "all" or not tasks[r.task].private)
            ]
            if not chosen:
                continue
            refs = [(reference(r.task, method), tasks[r.task].weight) for r in chosen]
            per_seed = [r.seed_scores for r in chosen]
            seeds = len(per_seed[0])
            std = None
            if seeds > 1 and all(len(scores) == seeds for scores in per_seed):
                each = [
                    weighted_average((r.seed_scores[k], tasks[r.task].weight) for r in chosen) for k in range(seeds)
                ]
                std = statistics.stdev(a for a in each if a is not None) if None not in each else None
            rows.append(
                Average(
                    method,
                    scope,
                    weighted_average((r.score, tasks[r.task].weight) for r in chosen),
                    weighted_average((s, w) for s, w in refs if s is not None)
                    if all(s is not None for s, _ in refs)
                    else None,
                    tuple(r.task for r in chosen),
                    std,
                )
            )
    return rows


def weighted_average(scores_and_weights: Iterable[tuple[float, float]]) -> float | None:
    """Σ score × weight / Σ weight, or ``None`` when nothing counts."""
    pairs = [(s, w) for s, w in scores_and_weights if w > 0]
    total = sum(w for _, w in pairs)
    return sum(s * w for s, w in pairs) / total if total else None


def provenance(encoder: str | None, seed: int) -> dict[str, Any]:
    import torch

    return {
        "pytest_xares": __version__,
        "protocol": PROTOCOL_VERSION,
        "encoder": encoder,
        "seed": seed,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


@dataclass(frozen=True)
class TaskInfo:
    """What the report needs of a task definition; results files carry it, so they merge alone."""

    name: str
    formal_name: str
    metric: str
    weight: float
    private: bool
    averaged: bool = True

    @classmethod
    def of(cls, task: Any) -> TaskInfo:
        return cls(task.name, task.formal_name, task.metric, task.weight, task.private, task.averaged)


@dataclass
class Results:
    """The scores of one run, the weighted averages over them, and what did not run: ``skipped``
    (could not run here: absent data, a gating check) and ``failed`` (ran, or should have, and gave
    no score: an xdist worker that crashed, a task the baseline gates that did not run), each an
    item (``task::method``) with the reason.

    The plugin writes this object to ``--xares-json`` and prints it; ``pytest_xares.evaluate``
    returns it::

        results = pytest_xares.evaluate(MyEncoder(), tasks=["esc50"])
        results.score("esc50", "mlp")
        print(results)              # the scores table and the averages
        results.to_json("results.json")
    """

    results: list[TaskResult]
    tasks: dict[str, Task | TaskInfo]
    skipped: dict[str, str] = field(default_factory=dict)
    encoder: str | None = None
    seed: int = 42
    failed: dict[str, str] = field(default_factory=dict)
    #: ``--xares-name`` and ``--xares-meta key=value``: what the run is called in reports and comparisons.
    name: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        order = {name: i for i, name in enumerate(self.tasks)}
        self.results = sorted(self.results, key=lambda r: (order.get(r.task, len(order)), r.method != "mlp"))

    def score(self, task: str, method: str = "mlp") -> float:
        for result in self.results:
            if result.task == task and result.method == method:
                return result.score
        why = self.failed.get(f"{task}::{method}") or self.skipped.get(f"{task}::{method}")
        raise KeyError(f"no {method} score for {task!r}" + (f" ({why})" if why else ""))

    def averages(self) -> list[Average]:
        return averages(self.results, self.tasks)

    @property
    def seeds(self) -> int:
        """How many seeds each head was trained with (``--xares-seeds``): 1 unless results say more."""
        return max((len(r.seed_scores) for r in self.results), default=1) or 1

    @property
    def label(self) -> str:
        """What reports call the run: its ``--xares-name``, else the encoder."""
        return self.name or self.encoder or "results"

    @property
    def encoder_attributes(self) -> dict[str, Any]:
        """The encoder's declared attributes and parameter count, where an item recorded them."""
        return next((r.encoder_attributes for r in self.results if r.encoder_attributes), {})

    def to_dict(self) -> dict[str, Any]:
        fingerprints = sorted({r.encoder_fingerprint for r in self.results})
        return {
            **provenance(self.encoder, self.seed),
            "seeds": self.seeds,
            "name": self.name,
            "meta": self.meta,
            "encoder_attributes": self.encoder_attributes,
            "encoder_fingerprint": fingerprints[0] if len(fingerprints) == 1 else fingerprints,
            "devices": sorted({r.device for r in self.results}),
            "results": [r.to_dict() for r in self.results],
            "averages": [asdict(a) for a in self.averages()],
            "skipped": self.skipped,
            "failed": self.failed,
            "tasks": {name: asdict(TaskInfo.of(task)) for name, task in self.tasks.items()},
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Results:
        """Read back what ``to_dict`` (or ``--xares-json``) wrote."""
        tasks: dict[str, Task | TaskInfo] = {name: TaskInfo(**info) for name, info in document.get("tasks", {}).items()}
        results = [TaskResult.from_dict(r) for r in document.get("results", [])]
        meta = document.get("meta") or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError(f"meta is not a mapping of names to text: {meta!r}")
        return cls(
            results, tasks, document.get("skipped", {}), document.get("encoder"), document.get("seed", 42),
            document.get("failed", {}), document.get("name"), meta,
        )  # fmt: skip

    @classmethod
    def merge(cls, parts: Mapping[str, Results]) -> Results:
        """One run's worth of results from several files (per-task cluster jobs sharing a cache,
        say), each by its name. Results of different encoders (fingerprints) or seeds are refused,
        naming the files; an encoder named differently in two files is still one encoder.

        A task and method present in several files keeps its latest entry; a skip or a failure is
        dropped where another file has the score. Names (``--xares-name``) are joined; a ``meta``
        key in several files keeps its latest value.
        """
        fingerprints: dict[str, set[str]] = {}
        for name, part in parts.items():
            for r in part.results:
                fingerprints.setdefault(r.encoder_fingerprint, set()).add(f"{name} ({part.encoder})")
        if len(fingerprints) > 1:
            described = "; ".join(f"{fp}: {', '.join(sorted(names))}" for fp, names in sorted(fingerprints.items()))
            raise ValueError(
                f"the results files hold scores of {len(fingerprints)} different encoders "
                f"(fingerprint: files (encoder) — {described}); they do not merge"
            )
        seeds = {part.seed for part in parts.values()}
        counts = {part.seeds for part in parts.values() if part.results}
        if len(seeds) > 1 or len(counts) > 1:
            by_file = ", ".join(
                f"{name}: {part.seed}" + (f" and the {part.seeds - 1} after it" if part.seeds > 1 else "")
                for name, part in parts.items()
            )
            raise ValueError(f"the results files were made with different seeds ({by_file}); they do not merge")
        tasks: dict[str, TaskInfo | Task] = {}
        results: dict[tuple[str, str], TaskResult] = {}
        skipped: dict[str, str] = {}
        failed: dict[str, str] = {}
        for part in parts.values():
            tasks.update(part.tasks)
            results.update({(r.task, r.method): r for r in part.results})
            skipped.update(part.skipped)
            failed.update(part.failed)
        skipped = {item: why for item, why in skipped.items() if tuple(item.split("::")) not in results}
        failed = {item: why for item, why in failed.items() if tuple(item.split("::")) not in results}
        encoders = sorted({str(part.encoder) for part in parts.values()})
        encoder = encoders[0] if len(encoders) == 1 else ", ".join(encoders)
        names = list(dict.fromkeys(part.name for part in parts.values() if part.name))
        meta = {key: value for part in parts.values() for key, value in part.meta.items()}
        return cls(
            list(results.values()), tasks, skipped, encoder, seeds.pop() if seeds else 42, failed,
            ", ".join(names) or None, meta,
        )  # fmt: skip

    def to_json(self, path: str | Path | None = None) -> str:
        """The results with their provenance as JSON; also written (atomically) to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            write_atomic(Path(path), text, option="--xares-json")
        return text

    def to_markdown(self, baseline: Any = None) -> str:
        """A Markdown report fit for a pull request: scores with their 95 % intervals, the
        baseline and difference where one is given, the published reference, the averages."""
        from pytest_xares.results.table import markdown

        return markdown(self, baseline)

    def __str__(self) -> str:
        """The scores table, the averages and what did not run."""
        from pytest_xares.results.table import render

        return render(self)
