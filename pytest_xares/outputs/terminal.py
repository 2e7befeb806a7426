"""What the end of a run prints: the scores and averages, the baseline's verdicts, and where each
file went."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_xares.results.scores import Results

VERDICT_TITLES = {
    "regressed": "regressed beyond tolerance",
    "improved": "improved well beyond tolerance: refresh the baseline with --xares-update-baseline",
    "missing": "not in the baseline (not gated)",
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


def verdict_line(v: dict[str, Any]) -> str:
    if v["status"] == "missing":
        return f"{v['task']}::{v['method']}: {v['score']:.4f}"
    return (
        f"{v['task']}::{v['method']}: {v['baseline']:.4f} → {v['score']:.4f} "
        f"({v['difference']:+.4f}, tolerance {v['tolerance']:.4f}" + (f": {v['basis']})" if v.get("basis") else ")")
    )
