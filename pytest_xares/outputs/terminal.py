"""What the end of a run prints: the scores and averages, the baseline's verdicts, and where each
file went; for a run of several encoders, their comparison (``outputs.compare``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_xares.outputs.compare import Column, compare, render
from pytest_xares.results.scores import Results
from pytest_xares.results.table import by_reason

VERDICT_TITLES = {
    "regressed": "regressed beyond tolerance",
    "improved": "improved well beyond tolerance: refresh the baseline with --xares-update-baseline",
    "missing": "not in the baseline (not gated)",
    "mismatch": "scored on other layers than the baseline's entry (failed, not compared)",
}


def scores_lines(
    results: Results, verdicts: Iterable[dict[str, Any]], baseline: Any, notes: Iterable[str]
) -> list[str]:
    """The lines of the scores section: the table, each baseline verdict that needs a look, notes."""
    lines = [str(results)]
    verdicts = list(verdicts)
    for status, title in VERDICT_TITLES.items():
        chosen = [v for v in verdicts if v["status"] == status]
        if chosen:
            lines.append(f"\nbaseline {baseline}: {title}:")
            lines += ["  " + verdict_line(v) for v in chosen]
    return lines + list(notes)


def comparison_lines(every: list[Results], files: list[Path | None], notes: Iterable[str]) -> list[str]:
    """The lines of a run of several encoders (``files``: each one's results file, if written): one
    table, a column per encoder with its difference to the first and the paired interval of it,
    the averages, then what did not run, per encoder."""
    columns = [Column(r.label, r, (str(file) if file else "this run",)) for r, file in zip(every, files)]
    lines = render(compare(columns)).splitlines()[1:]  # the section's title says what it compares
    for results in every:
        for heading, items in (("failed", results.failed), ("not run", results.skipped)):
            if items:
                lines += [f"\n{results.label}, {heading}:", *by_reason(items)]
    return lines + list(notes)


def verdict_line(v: dict[str, Any]) -> str:
    if v["status"] == "missing":
        return f"{v['task']}::{v['method']}: {v['score']:.4f}"
    if v["status"] == "mismatch":
        entry, run = v["layers"]
        return f"{v['task']}::{v['method']}: the entry {v['baseline']:.4f} of the layers '{entry}', this run's '{run}'"
    return (
        f"{v['task']}::{v['method']}: {v['baseline']:.4f} → {v['score']:.4f} "
        f"({v['difference']:+.4f}, tolerance {v['tolerance']:.4f}" + (f": {v['basis']})" if v.get("basis") else ")")
    )
