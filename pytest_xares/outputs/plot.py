"""A picture of the scores: per task, the encoder's MLP and kNN scores side by side with their 95 %
intervals, the published baselines and the baseline file's scores as markers, the metric named on
each row, the legend below the axes where it covers nothing.

Needs matplotlib (``pip install 'pytest-xares[plot]'``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from pytest_xares.results.baseline import Baseline
from pytest_xares.results.references import reference, reference_scores
from pytest_xares.results.scores import Results, TaskResult
from pytest_xares.results.table import title

#: Published encoders drawn as markers on the MLP bars (their kNN scores came from X-ARES's own kNN,
#: which normalised differently, so they are not drawn against this kNN).
PUBLISHED_MARKERS = {
    "dasheng": ("o", "#222222"),
    "wav2vec2": ("s", "#9467bd"),
    "whisper": ("^", "#2ca02c"),
    "data2vec": ("D", "#8c564b"),
}
METHODS = {"mlp": ("MLP", "#4c78a8"), "knn": ("kNN", "#f58518")}
BAR = 0.38  # height of one method's bar; a task's row is 1


def plot_scores(results: Results, path: Path, baseline: Baseline | None = None) -> None:
    """Draw the scores (``figure``) into a PNG at ``path``."""
    drawn = figure(results, baseline)
    path.parent.mkdir(parents=True, exist_ok=True)
    drawn.savefig(path, format="png")
    plt.close(drawn)


def figure(results: Results, baseline: Baseline | None = None) -> Figure:
    """Horizontal bars, a row per task (its metric under its name) with a bar per method."""
    tasks = list(dict.fromkeys(r.task for r in results.results))
    by_key = {(r.task, r.method): r for r in results.results}
    methods = [m for m in METHODS if any(r.method == m for r in results.results)]
    offsets = {m: (i - (len(methods) - 1) / 2) * BAR for i, m in enumerate(methods)}
    drawn, axes = plt.subplots(figsize=(9, 1.8 + 0.55 * max(len(tasks), 1)), dpi=120, layout="constrained")
    marks: list[tuple[float, float]] = []  # the baseline file's scores, where each bar is
    for method in methods:
        rows = [(i, by_key[task, method]) for i, task in enumerate(tasks) if (task, method) in by_key]
        y = [i + offsets[method] for i, _ in rows]
        scores = [r.score for _, r in rows]
        name, colour = METHODS[method]
        axes.barh(y, scores, height=BAR * 0.9, color=colour, label=f"{results.label}: {name}")
        axes.errorbar(
            scores,
            y,
            fmt="none",
            ecolor="#222222",
            capsize=2,
            linewidth=1,
            # A percentile interval need not contain the score (a skewed metric): never a negative bar.
            xerr=[
                [max(0.0, r.score - r.interval[0]) for _, r in rows],
                [max(0.0, r.interval[1] - r.score) for _, r in rows],
            ],
        )
        if baseline is not None:
            entries = [(i, baseline.entries.get(task, {}).get(method)) for i, task in enumerate(tasks)]
            marks += [(entry.score, i + offsets[method]) for i, entry in entries if entry is not None]
    if marks:
        assert baseline is not None  # only its entries make marks
        xs, ys = zip(*marks)
        label = f"baseline file ({baseline.path.name})"
        axes.scatter(xs, ys, marker="|", s=260, linewidths=2.5, color="#d62728", zorder=4, label=label)
    if "mlp" in methods:
        for encoder, (marker, colour) in PUBLISHED_MARKERS.items():
            if encoder not in reference_scores().get("encoders", []):
                continue
            published = [(reference(task, "mlp", encoder), i + offsets["mlp"]) for i, task in enumerate(tasks)]
            points = [(score, y) for score, y in published if score is not None]
            if points:
                xs, ys = zip(*points)
                axes.scatter(xs, ys, marker=marker, s=26, color=colour, zorder=3, label=f"{encoder} MLP (published)")
    axes.set_yticks(range(len(tasks)), [_row_name(results, task) for task in tasks])
    axes.invert_yaxis()
    lows = [r.interval[0] for r in results.results] + [r.score for r in results.results]
    axes.set_xlim(min([0.0, *lows]) - 0.02 if min([0.0, *lows]) < 0 else 0.0, 1.0)  # a correlation may be negative
    axes.set_xlabel("score (whiskers: 95 % interval)")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(title(results), fontsize="medium")
    handles, _ = axes.get_legend_handles_labels()
    drawn.legend(loc="outside lower center", ncols=min(3, len(handles)), fontsize="small", frameon=False)
    return drawn


def _row_name(results: Results, task: str) -> str:
    """``ESC-50\\naccuracy``: the task's formal name and the metric its scores are in."""
    info = results.tasks.get(task)
    first: TaskResult = next(r for r in results.results if r.task == task)
    return f"{info.formal_name if info is not None else task}\n{first.metric}"
