"""Several encoders' results side by side: the scores, each one's difference to the first, and a
paired bootstrap interval of every difference over the same test clips (``results.paired``), then
the weighted averages over the tasks that every encoder ran. ``xares compare`` prints it, writes
it as Markdown and draws it.

A score of several layers (``--xares-layers``) is compared as its run reported it: the chosen
layer's (marked ``@7``) or the learned weighted sum's (``w``), clip by clip.
"""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tabulate import tabulate

from pytest_xares.errors import XaresError
from pytest_xares.files import write_atomic
from pytest_xares.results.paired import ClipScores, aligned, clip_scores, interval, paired_draws
from pytest_xares.results.scores import Results, TaskResult, weighted_average
from pytest_xares.results.table import chosen_mark
from pytest_xares.task import METHODS

#: The widest terminal table; wider comparisons are printed as one table per pair.
WIDTH = 120

SIGNIFICANT = "*"
NOTES = {
    SIGNIFICANT: "the 95 % interval of the difference excludes 0",
    "unpaired": "no per-clip data in a file (written before pytest-xares kept it, or a test set too large "
    "to keep): the difference is shown without an interval",
    "layers": "@n: the score of the encoder's layer n, the one of best validation score (--xares-layers=all or a "
    "list); w: of a learned weighted sum of its layers (--xares-layers=weighted)",
}


@dataclass(frozen=True)
class Column:
    """One encoder's results (merged from ``files``) and what the comparison calls it."""

    label: str
    results: Results
    files: tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    """Another encoder's score minus the first's, with the paired interval where there is one."""

    value: float
    interval: tuple[float, float] | None

    @property
    def significant(self) -> bool:
        return self.interval is not None and not self.interval[0] <= 0 <= self.interval[1]


@dataclass(frozen=True)
class Row:
    """A task and method (or a weighted average): each column's score and the differences."""

    name: str
    metric: str
    scores: list[float | None]
    differences: list[Difference | None]  # one per column after the first
    #: Per column, what layers its score is of: "" (the last), " @7" or " w" (``layer_mark``).
    marks: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    columns: list[Column]
    rows: list[Row]
    averages: list[Row]
    level: float = 0.95
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return "X-ARES comparison: " + " vs ".join(c.label for c in self.columns)


def compare(columns: Sequence[Column], resamples: int = 1000, seed: int = 42, level: float = 0.95) -> Comparison:
    """The comparison of ``columns`` (at least two); raises ``PairingError`` for results of the
    same task whose test clips differ."""
    if len(columns) < 2:
        raise XaresError("a comparison needs the results of at least two encoders")
    first = columns[0].results
    tasks = {**{n: t for c in reversed(columns) for n, t in c.results.tasks.items()}, **first.tasks}
    found = [{(r.task, r.method): r for r in c.results.results} for c in columns]
    rows: list[Row] = []
    draws: dict[tuple[str, str], np.ndarray] = {}
    for name in tasks:
        for method in METHODS:
            got = [f.get((name, method)) for f in found]
            if all(r is None for r in got):
                continue
            label = name if method == "mlp" else f"{name} (kNN)"
            row, row_draws = _row(label, tasks[name].metric, got, columns, resamples, seed, level)
            rows.append(row)
            if row_draws is not None:
                draws[(name, method)] = row_draws
    averages = []
    for method in METHODS:
        for scope in ("public", "all"):
            covered = [
                name
                for name, task in tasks.items()
                if task.averaged and (scope == "all" or not task.private) and all((name, method) in f for f in found)
            ]
            if covered:
                averages.append(_average(method, scope, covered, tasks, found, draws, level))
    unpaired = any(d is not None and d.interval is None for row in rows for d in row.differences)
    notes = [f"{SIGNIFICANT} {NOTES[SIGNIFICANT]}"] + ([f"unpaired: {NOTES['unpaired']}"] if unpaired else [])
    notes += [NOTES["layers"]] if any(mark for row in rows for mark in row.marks) else []
    return Comparison(list(columns), rows, averages, level, notes)


def _row(
    label: str,
    metric: str,
    got: list[TaskResult | None],
    columns: Sequence[Column],
    resamples: int,
    seed: int,
    level: float,
) -> tuple[Row, np.ndarray | None]:
    """The row of one task and method, and the paired draws ``[resamples, columns]`` when every
    column has the score with its per-clip data."""
    scores = [r.score if r is not None else None for r in got]
    folds: list[list[ClipScores] | None] = [clip_scores(r) if r is not None else None for r in got]
    draws = None
    if all(f is not None for f in folds):
        reference = folds[0]
        assert reference is not None
        first = f"{columns[0].label} ({', '.join(columns[0].files)})"
        paired = [reference] + [
            aligned(reference, f, f"{label}: {first} and {c.label} ({', '.join(c.files)})")
            for c, f in zip(columns[1:], folds[1:])
            if f is not None
        ]
        draws = paired_draws(paired, [seed, zlib.crc32(label.encode("utf-8"))], resamples)
    marks = [layer_mark(r) for r in got]
    return Row(label, metric, scores, _differences(scores, draws, level), marks), draws


def layer_mark(result: TaskResult | None) -> str:
    """What layers a score is of: " @7" (the chosen one of several), " w" (their weighted sum), or ""."""
    return " w" if result is not None and "weights" in result.layers else chosen_mark(result)


def _differences(scores: list[float | None], draws: np.ndarray | None, level: float) -> list[Difference | None]:
    """Each later column's difference to the first, with the interval of the paired ``draws``
    ``[resamples, columns]`` when there are any."""
    differences: list[Difference | None] = []
    for k, score in enumerate(scores[1:], start=1):
        if scores[0] is None or score is None:
            differences.append(None)
            continue
        spread = None if draws is None else interval(draws[:, k] - draws[:, 0], level)
        differences.append(Difference(score - scores[0], spread))
    return differences


def _average(
    method: str,
    scope: str,
    covered: list[str],
    tasks: dict,  # name → Task or TaskInfo
    found: list[dict[tuple[str, str], TaskResult]],
    draws: dict[tuple[str, str], np.ndarray],
    level: float,
) -> Row:
    """The weighted average of each column over ``covered``; its difference's interval combines
    the tasks' paired draws, when every covered task has them."""
    weights = np.array([tasks[name].weight for name in covered], dtype=np.float64)
    scores = [weighted_average((f[(name, method)].score, w) for name, w in zip(covered, weights)) for f in found]
    joint = None
    if all((name, method) in draws for name in covered) and weights.sum() > 0:
        stacked = np.stack([draws[(name, method)] for name in covered])  # [tasks, resamples, columns]
        joint = np.tensordot(weights, stacked, axes=1) / weights.sum()
    label = f"{'MLP' if method == 'mlp' else 'kNN'}, {scope} ({len(covered)} task{'s' if len(covered) != 1 else ''})"
    return Row(label, "", scores, _differences(scores, joint, level))


# --- as text ------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _difference(d: Difference | None) -> list[str]:
    if d is None:
        return ["–", "–"]
    shown = f"{d.value:+.3f}" + (SIGNIFICANT if d.significant else "")
    spread = "unpaired" if d.interval is None else f"{d.interval[0]:+.3f} … {d.interval[1]:+.3f}"
    return [shown, spread]


def _short(label: str, width: int = 16) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _table(comparison: Comparison, others: Sequence[int], rows: list[Row], tablefmt: str, width: int) -> str:
    """Tasks (or averages: rows without a metric) by the first column and the ``others``."""
    percent = f"{comparison.level * 100:g} % CI"
    metric = any(row.metric for row in rows)
    headers = ["task", "metric"] if metric else ["weighted average"]
    headers.append(_short(comparison.columns[0].label, width))
    for k in others:
        headers += [_short(comparison.columns[k].label, width), "Δ", percent]
    body = []
    for row in rows:
        marks = row.marks or [""] * len(row.scores)
        line = [row.name, *([row.metric] if metric else []), _fmt(row.scores[0]) + marks[0]]
        for k in others:
            line += [_fmt(row.scores[k]) + marks[k], *_difference(row.differences[k - 1])]
        body.append(line)
    return tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def _legend(comparison: Comparison, markdown: bool = False) -> list[str]:
    lines = []
    for column in comparison.columns:
        r = column.results
        meta = "".join(f", {k}={v}" for k, v in r.meta.items())
        fingerprints = sorted({x.encoder_fingerprint[:12] for x in r.results})
        attributes = r.encoder_attributes
        shape = (
            f", {attributes.get('output_dim')}-d every {attributes.get('hop_size_in_ms')} ms at "
            f"{attributes.get('sampling_rate')} Hz, {attributes.get('parameters'):,} parameters"
            if attributes
            else ""
        )
        seeds = f"seed {r.seed}" if r.seeds < 2 else f"mean of seeds {r.seed}–{r.seed + r.seeds - 1}"
        text = f"{column.label}: {r.encoder}{shape} (fingerprint {', '.join(fingerprints) or '–'}, {seeds}{meta}; {', '.join(column.files)})"
        lines.append(
            f"- {text}"
            if markdown
            else textwrap.fill(text, WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)
        )
    return lines


def render(comparison: Comparison) -> str:
    """The comparison as terminal text, at most ``WIDTH`` columns wide where the labels allow."""
    everyone = list(range(1, len(comparison.columns)))
    tables = [everyone]
    text = _table(comparison, everyone, comparison.rows + comparison.averages, "github", 16)
    if max(map(len, text.splitlines())) > WIDTH:
        tables = [[k] for k in everyone]
    parts = [comparison.title, *_legend(comparison), ""]
    for others in tables:
        parts += [_table(comparison, others, comparison.rows, "github", 16), ""]
        parts += [_table(comparison, others, comparison.averages, "github", 16), ""]
    return "\n".join(parts + comparison.notes)


def markdown(comparison: Comparison) -> str:
    """The comparison as a Markdown report: the title, what each column is, one table of the
    tasks and one of the averages."""
    everyone = list(range(1, len(comparison.columns)))
    parts = [f"### {comparison.title}", "", *_legend(comparison, markdown=True), ""]
    parts += [_table(comparison, everyone, comparison.rows, "github", 40), ""]
    parts += [_table(comparison, everyone, comparison.averages, "github", 40), ""]
    return "\n".join(parts + [f"{note}  " for note in comparison.notes]) + "\n"


def write_markdown(comparison: Comparison, path: Path) -> None:
    write_atomic(path, markdown(comparison), option="--markdown")


def plot(comparison: Comparison, path: Path) -> None:
    """Each other encoder's difference to the first, task by task, with its paired interval."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise XaresError("--plot needs matplotlib, which is not installed: pip install 'pytest-xares[plot]'") from None
    rows = comparison.rows + comparison.averages
    others = len(comparison.columns) - 1
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.32 * len(rows) * max(1, others / 2)))
    height = 0.8 / others
    for k in range(others):
        shown = [(i, row.differences[k]) for i, row in enumerate(rows) if row.differences[k] is not None]
        values = [d.value for _, d in shown if d is not None]
        low = [d.value - d.interval[0] if d and d.interval else 0.0 for _, d in shown]
        high = [d.interval[1] - d.value if d and d.interval else 0.0 for _, d in shown]
        axes.barh(
            [i + (k - (others - 1) / 2) * height for i, _ in shown],
            values,
            height=height * 0.9,
            color=f"C{k}",
            xerr=[low, high],
            capsize=2,
            label=comparison.columns[k + 1].label,
        )
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [row.name for row in rows])
    axes.invert_yaxis()
    axes.set_xlabel(f"difference to {comparison.columns[0].label} ({comparison.level * 100:g} % paired interval)")
    axes.set_title(comparison.title, fontsize=10)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=120), option="--plot")
    plt.close(figure)
