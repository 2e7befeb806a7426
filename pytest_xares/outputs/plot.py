"""A picture of the scores: per task, the encoder's MLP and kNN scores side by side with their 95 %
intervals, the published baselines and the baseline file's scores as markers, the metric named on
each row, the legend below the axes where it covers nothing. Where results hold scores of several
encoder layers (``--xares-layers``), a second picture (``layers_figure``) shows them by layer.

Needs matplotlib (``pip install 'pytest-xares[plot]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

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
#: The most layers a heat map writes each cell's figure in; a wider one is read by its colours.
NUMBERED_LAYERS = 16


def plot_scores(results: Results, path: Path, baseline: Baseline | None = None) -> list[Path]:
    """Draw the scores (``figure``) into a PNG at ``path`` and, where results hold scores or weights
    by layer, ``layers_figure`` beside it as ``<stem>-layers.png``; the paths written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for drawn, where in ((figure(results, baseline), path), (layers_figure(results), layers_path(path))):
        if drawn is None:
            continue
        drawn.savefig(where, format="png")
        plt.close(drawn)
        written.append(where)
    return written


def layers_path(path: Path) -> Path:
    """Where ``plot_scores`` writes the picture by layer: ``scores.png`` → ``scores-layers.png``."""
    return path.with_name(f"{path.stem}-layers.png")


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
    """``ESC-50 (layer 7)\\naccuracy``: the task's formal name, the layer its scores are of where
    not the last (``_layer_note``), and the metric its scores are in."""
    info = results.tasks.get(task)
    first: TaskResult = next(r for r in results.results if r.task == task)
    return f"{info.formal_name if info is not None else task}{_layer_note(results, task)}\n{first.metric}"


def _layer_note(results: Results, task: str) -> str:
    """`` (layer 7)``, `` (weighted)``, `` (MLP weighted, kNN layer 12)`` where the methods differ;
    empty for the last layer."""
    notes: dict[str, str] = {}
    for r in results.results:
        if r.task != task or not r.layers:
            continue
        if "weights" in r.layers:
            notes[r.method] = "weighted"
        elif r.layers.get("chosen") is not None:
            notes[r.method] = f"layer {r.layers['chosen']}"
    if not notes:
        return ""
    if len(set(notes.values())) == 1:
        return f" ({next(iter(notes.values()))})"
    return " (" + ", ".join(f"{METHODS.get(m, (m,))[0]} {note}" for m, note in notes.items()) + ")"


def layers_figure(results: Results) -> Figure | None:
    """Heat maps by layer, a row per task and method, a column per layer number: the test score of
    each layer's head, coloured on its row's range (tasks' metrics differ), the layer reported
    boxed; and the learned weights of ``weighted`` heads. ``None`` where no result holds scores of
    more than one layer or weights."""
    scored = [r for r in results.results if len(r.layers.get("scores") or []) > 1]
    weighed = [r for r in results.results if r.layers.get("weights")]
    if not scored and not weighed:
        return None
    panels = [(kind, rows) for kind, rows in (("scores", scored), ("weights", weighed)) if rows]
    columns = max(len(_layer_numbers(rows)) for _, rows in panels)
    height = 1.0 + sum(0.9 + 0.42 * len(rows) for _, rows in panels)
    drawn, grid = plt.subplots(
        len(panels),
        1,
        figsize=(max(7.0, 3.5 + 0.62 * columns), height),
        dpi=120,
        layout="constrained",
        height_ratios=[0.9 + 0.42 * len(rows) for _, rows in panels],
        squeeze=False,
    )
    for (kind, rows), axes in zip(panels, grid[:, 0]):
        (_scores_map if kind == "scores" else _weights_map)(drawn, axes, results, rows)
    drawn.suptitle(title(results) + " by layer", fontsize="medium")
    return drawn


def _layer_numbers(rows: list[TaskResult]) -> list[int]:
    """The layer numbers any of the rows holds, in order: a heat map's columns."""
    return sorted({int(n) for r in rows for n in r.layers.get("layers", [])})


def _grid(rows: list[TaskResult], key: str) -> tuple[list[int], np.ma.MaskedArray]:
    """The rows' figures under ``key`` (``scores`` or ``weights``) by layer number, a cell masked
    where a row has no such layer."""
    numbers = _layer_numbers(rows)
    where = {n: i for i, n in enumerate(numbers)}
    values = np.full((len(rows), len(numbers)), np.nan)
    for i, r in enumerate(rows):
        for n, value in zip(r.layers.get("layers", []), r.layers.get(key, [])):
            if value is not None:
                values[i, where[int(n)]] = float(value)
    return numbers, np.ma.masked_invalid(values)


def _heat_map(axes: Axes, results: Results, rows: list[TaskResult], numbers: list[int], shown: Any, cmap: str) -> Any:
    """Draw ``shown`` (rows by layers, 0..1 or more) on ``axes`` with its row and column names;
    blank where masked. The image."""
    colours = plt.get_cmap(cmap).with_extremes(bad="white")
    image = axes.imshow(shown, aspect="auto", cmap=colours, interpolation="nearest")
    axes.set_xticks(range(len(numbers)), [str(n) for n in numbers])
    axes.set_yticks(range(len(rows)), [_layer_row_name(results, r) for r in rows])
    axes.tick_params(length=0)
    axes.set_xticks(np.arange(len(numbers) + 1) - 0.5, minor=True)
    axes.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    axes.grid(which="minor", color="white", linewidth=1.5)
    axes.tick_params(which="minor", length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    return image


def _write_cells(axes: Axes, values: np.ma.MaskedArray, shade: np.ma.MaskedArray, spec: str, dark_below: bool) -> None:
    """Each unmasked cell's value in ``spec``, light on dark cells (``shade`` 0..1 on the colour
    map, dark at 0 where ``dark_below``); none where the grid is too wide to read."""
    if values.shape[1] > NUMBERED_LAYERS:
        return
    for (i, j), value in np.ndenumerate(values.filled(np.nan)):
        if np.isnan(value):
            continue
        dark = (shade[i, j] < 0.55) if dark_below else (shade[i, j] > 0.55)
        axes.text(j, i, format(value, spec), ha="center", va="center", fontsize=7, color="white" if dark else "black")


def _scores_map(drawn: Figure, axes: Axes, results: Results, rows: list[TaskResult]) -> None:
    """Each layer's test score, coloured from its row's lowest (0) to its highest (1), the
    reported (chosen) layer boxed."""
    numbers, scores = _grid(rows, "scores")
    relative = _relative(scores)
    image = _heat_map(axes, results, rows, numbers, relative, "viridis")
    image.set_clim(0.0, 1.0)
    axes.set_label("scores")
    _write_cells(axes, scores, relative, ".3f", dark_below=True)
    for i, r in enumerate(rows):
        chosen = r.layers.get("chosen")
        if chosen is not None and int(chosen) in numbers:
            box = Rectangle((numbers.index(int(chosen)) - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#d62728")
            box.set(linewidth=2.5, gid="chosen", zorder=3)
            axes.add_patch(box)
    axes.set_title("test score by layer (boxed: the layer reported, chosen on the validation split)", fontsize="small")
    axes.set_xlabel("layer")
    bar = drawn.colorbar(image, ax=axes, ticks=[0.0, 1.0], fraction=0.04, pad=0.02)
    bar.ax.set_yticklabels(["row's lowest", "row's highest"], fontsize="x-small")
    bar.set_label("score relative to its row", fontsize="small")


def _relative(scores: np.ma.MaskedArray) -> np.ma.MaskedArray:
    """Each row's scores from its lowest (0) to its highest (1); 1 throughout a row of equal scores."""
    values = scores.filled(np.nan)
    low = np.nanmin(values, axis=1, keepdims=True)
    span = np.nanmax(values, axis=1, keepdims=True) - low
    relative = np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 1.0)
    return np.ma.masked_invalid(np.where(np.isnan(values), np.nan, relative))


def _weights_map(drawn: Figure, axes: Axes, results: Results, rows: list[TaskResult]) -> None:
    """Each ``weighted`` head's learned weight per layer, coloured from 0 to the largest weight."""
    numbers, weights = _grid(rows, "weights")
    top = float(weights.max()) or 1.0
    image = _heat_map(axes, results, rows, numbers, weights, "Blues")
    image.set_clim(0.0, top)
    axes.set_label("weights")
    _write_cells(axes, weights, weights / top, ".2f", dark_below=False)
    axes.set_title("learned layer weights (softmax, summing to 1 per row)", fontsize="small")
    axes.set_xlabel("layer")
    drawn.colorbar(image, ax=axes, fraction=0.04, pad=0.02).set_label("weight (0 to the largest)", fontsize="small")


def _layer_row_name(results: Results, result: TaskResult) -> str:
    """``ESC-50 MLP (accuracy)``: a heat map row's task, method and metric."""
    info = results.tasks.get(result.task)
    name = info.formal_name if info is not None else result.task
    return f"{name} {METHODS.get(result.method, (result.method,))[0]} ({result.metric})"
