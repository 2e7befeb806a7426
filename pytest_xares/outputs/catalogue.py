"""The suite's tasks as a table: what each asks, how it is scored and weighed, how much data it
has and whether that data is here, and the published baseline scores (``xares tasks`` and
``pytest --xares-list``).

A split's clips (crops counted) and hours are known once any encoder has encoded it with this
cache and data folder (``engine.plan.Sizes``); the download size once the record's metadata is kept
beside the data (or, for data placed by hand, what its shards take on disk). Nothing here reads audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_xares.data.fetch import candidate_folders, is_complete, record_page
from pytest_xares.data.records import read_record
from pytest_xares.data.shards import find_shards
from pytest_xares.data.transfer import human_bytes
from pytest_xares.engine.plan import Size, Sizes
from pytest_xares.errors import MissingData
from pytest_xares.results.references import REFERENCE_ENCODER, reference, reference_scores
from pytest_xares.task import KFold, Task


@dataclass(frozen=True)
class TaskRow:
    task: Task
    state: str  # "present", "partial", "absent"
    folder: Path
    download: int | None  # bytes of the record (known from its kept metadata), or on disk
    splits: dict[str, Size]  # by shard glob, where known


def describe(tasks: Sequence[Task], data_dir: Path, cache_dir: Path) -> list[TaskRow]:
    """One row per task: its data's state in ``data_dir`` and its splits' sizes where known."""
    sizes = Sizes(cache_dir, data_dir)
    return [_row(task, data_dir, sizes) for task in tasks]


def _row(task: Task, data_dir: Path, sizes: Sizes) -> TaskRow:
    folders = candidate_folders(task, data_dir)
    folder = next((f for f in folders if is_complete(task, f)), None)
    state = "present" if folder is not None else "absent"
    if folder is None:
        folder = next((f for f in folders if f.is_dir() and any(f.iterdir())), folders[0])
        state = "partial" if folder.is_dir() and any(folder.iterdir()) else "absent"
    on_disk = 0
    for pattern in task.splits.patterns():
        try:
            on_disk += sum(s.stat().st_size for s in find_shards(folder, pattern))
        except MissingData:
            continue
    record = read_record(folder) if folder.is_dir() else None
    download = record.size if record is not None else (on_disk if state == "present" else None)
    return TaskRow(task, state, folder, download, sizes.known(task))


# --- as text ------------------------------------------------------------------------------------


def _clips(row: TaskRow) -> str:
    if not row.splits:
        return "–"
    splits = row.task.splits
    names = splits.folds if isinstance(splits, KFold) else (splits.train, splits.valid, splits.test)
    counts = [row.splits[p].clips if p in row.splits else None for p in dict.fromkeys(names)]
    if isinstance(splits, KFold) and len(set(counts)) == 1 and counts[0] is not None:
        return f"{len(counts)}×{counts[0]}"
    return "/".join("?" if c is None else str(c) for c in counts)


def _hours(row: TaskRow) -> str:
    if len(row.splits) < len(row.task.splits.patterns()):
        return "–"
    total = sum(s.audio_seconds for s in row.splits.values()) / 3600
    return f"{total:.1f}" if total >= 0.1 else f"{total:.2f}"


def _published(task: str, method: str, encoder: str = REFERENCE_ENCODER) -> str:
    value = reference(task, method, encoder)
    return "–" if value is None else f"{value:.3f}"


def table(rows: Sequence[TaskRow]) -> str:
    """One line per task, at most 120 columns for the suite's names."""
    body = [
        [
            row.task.name + (" *" if row.task.private else ""),
            row.task.domain or "–",
            row.task.kind,
            row.task.metric,
            f"{row.task.weight:g}" if row.task.averaged else "–",
            _clips(row),
            _hours(row),
            "–" if row.download is None else human_bytes(row.download),
            {"present": "yes", "partial": "part", "absent": "no"}[row.state],
            _published(row.task.name, "mlp"),
        ]
        for row in rows
    ]
    headers = ["task", "domain", "kind", "metric", "weight", "clips", "hours", "download", "data", REFERENCE_ENCODER]
    return tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True, colalign=("left",) * 10)


def details(rows: Sequence[TaskRow]) -> str:
    """Per task: what it asks, where it comes from, its splits and every published baseline score."""
    encoders: list[str] = reference_scores().get("encoders", [])
    parts = []
    for row in rows:
        task = row.task
        lines = [f"{task.name}: {task.formal_name}. {task.description}", f"  reference: {task.reference or '–'}"]
        data = f"  data: {row.state} in {row.folder}"
        if task.record is not None:
            data += f" (Zenodo record {task.record}, {record_page(task.record)})"
        lines.append(data)
        for pattern, stats in row.splits.items():
            lines.append(f"  {pattern}: {stats.clips} clips, {stats.audio_seconds / 3600:.2f} h")
        for method in (m for m in task.methods if reference(task.name, m) is not None):
            scores = ", ".join(f"{e} {_published(task.name, method, e)}" for e in encoders)
            mark = "†" if method == "knn" else ""
            lines.append(f"  published {method.upper() if method == 'mlp' else 'kNN'}{mark}: {scores}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render(rows: Sequence[TaskRow], verbose: bool = False) -> str:
    notes = [
        f"{len(rows)} task{'s' if len(rows) != 1 else ''}. *: private (no public data). weight –: not in the weighted averages.",
        "clips (crops counted) and hours: known once a split has been encoded with this cache and data folder.",
        f"data: present in the data folder. {REFERENCE_ENCODER}: its published MLP score (-v: every baseline).",
    ]
    if verbose:
        notes.append("† published kNN scores come from X-ARES 0.1.3's kNN (per-dimension normalisation)")
    return "\n".join([table(rows), *notes] + (["", details(rows)] if verbose else []))


def to_dict(row: TaskRow) -> dict[str, Any]:
    """A row as builtin types (for ``--json``)."""
    task = row.task
    return {
        "name": task.name,
        "formal_name": task.formal_name,
        "description": task.description,
        "reference": task.reference,
        "domain": task.domain,
        "kind": task.kind,
        "metric": task.metric,
        "weight": task.weight if task.averaged else None,
        "private": task.private,
        "methods": list(task.methods),
        "record": task.record,
        "data": row.state,
        "folder": str(row.folder),
        "download_bytes": row.download,
        "splits": {p: {"clips": s.clips, "audio_seconds": s.audio_seconds} for p, s in row.splits.items()},
        "published": {
            m: {e: reference(task.name, m, e) for e in reference_scores().get("encoders", [])} for m in task.methods
        },
    }
