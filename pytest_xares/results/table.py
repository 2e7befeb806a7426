"""The results as text: the scores table and the averages (what ``print(results)`` and the end of
a run show), and the Markdown report.

The terminal table fits 120 columns: a column with nothing in it for the whole run is left out
(the published scores of a suite without references, kNN where no task has it), a figure reported
beside a score goes below the table where it would widen the metric column, and the times share
one unit. Every title (terminal, Markdown, plot) comes from ``title``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_xares.results.baseline import Baseline
from pytest_xares.results.references import REFERENCE_ENCODER, reference

if TYPE_CHECKING:
    from pytest_xares.results.scores import Average, Results, TaskResult

KNN_MARK = "†"
KNN_FOOTNOTE = (
    f"{KNN_MARK} published {REFERENCE_ENCODER} kNN scores come from X-ARES 0.1.3, whose kNN normalised the training "
    "features per dimension instead of per sample; they are shown for orientation, not for comparison."
)
EMPTY = "–"
PRIVATE_MARK = "*"
PRIVATE_FOOTNOTE = f"{PRIVATE_MARK} a private task: its data is not public, and the public averages leave it out."
#: The widest metric cell: longer ones (a retrieval score's two directions) say their figures below the table.
METRIC_WIDTH = 24


def title(results: Results) -> str:
    """What the terminal section, the Markdown report and the plot are headed with."""
    meta = ", ".join(f"{key}={value}" for key, value in results.meta.items())
    return f"X-ARES scores: {results.label}" + (f" ({meta})" if meta else "")


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return EMPTY
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _score(score: float | None, std: float | None) -> str:
    """A score, and where heads trained with several seeds scored differently their standard
    deviation: "0.812 ± 0.003" (kNN, which draws nothing from the seed, has none to show)."""
    return _fmt(score) + (f" ± {std:.3f}" if std and score is not None else "")


def seeds_note(results: Results) -> str | None:
    """What ± means, where the run trained its heads with several seeds."""
    n = results.seeds
    if n < 2:
        return None
    seeds = f"{n} seeds ({results.seed}–{results.seed + n - 1})"
    return f"scores are means over {seeds} ± their standard deviation (not shown where it is 0, as for kNN)"


LAYER_NOTE = (
    "@n: the layer whose head had the best validation score, of those scored (--xares-layers); "
    "its test score is shown, and every layer's below"
)
#: The width of the lines below the table.
WIDTH = 120


def chosen_mark(result: TaskResult | None) -> str:
    """ " @7" after the score of a result scored layer by layer: the layer chosen."""
    layers = result.layers if result is not None else {}
    return f" @{layers['chosen']}" if "chosen" in layers and len(layers.get("layers", [])) > 1 else ""


def last_layer_score(result: TaskResult | None) -> float | None:
    """The last layer's score of a result scored layer by layer, where the last layer was among them."""
    layers = result.layers if result is not None else {}
    numbers, scores = layers.get("layers", []), layers.get("scores")
    count = layers.get("count")
    if not scores or len(numbers) < 2 or count is None or count - 1 not in numbers:
        return None
    return float(scores[numbers.index(count - 1)])


def layer_lines(results: Results) -> list[str]:
    """Per task and method, every layer's score (``all`` or a list) or learned weight (``weighted``):
    ``demo_count MLP by layer: 0 0.412 · 1 0.530 · …``, wrapped to the table's width."""
    lines = []
    for r in results.results:
        layers = r.layers
        numbers = layers.get("layers", [])
        method = "MLP" if r.method == "mlp" else "kNN"
        if "weights" in layers:
            cells = " · ".join(f"{n} {w:.2f}" for n, w in zip(numbers, layers["weights"]))
            text = f"{r.task} {method} layer weights: {cells}"
        elif len(numbers) > 1:
            cells = " · ".join(f"{n} {s:.3f}" for n, s in zip(numbers, layers["scores"]))
            text = f"{r.task} {method} by layer: {cells}"
        else:
            continue
        lines += textwrap.wrap(text, WIDTH, subsequent_indent="    ", break_on_hyphens=False)
    return lines


def _metric(metric: str, result: TaskResult | None) -> str:
    """The metric's name, with the figures reported beside the score: "pearson (mse 1.234)"."""
    extra = result.extra if result is not None else {}
    return metric + (f" ({', '.join(f'{k} {v:.3f}' for k, v in extra.items())})" if extra else "")


def _time_unit(results: list[TaskResult]) -> tuple[str, float]:
    """One unit for the whole time column: seconds, or minutes once a task took ten of them."""
    longest = max((r.seconds.get("total", 0.0) for r in results if not r.cached), default=0.0)
    return ("minutes", 60.0) if longest >= 600 else ("seconds", 1.0)


def _seconds(results: list[TaskResult], divisor: float) -> str:
    if results and all(r.cached for r in results):
        return "cached"
    return f"{sum(r.seconds.get('total', 0.0) for r in results if not r.cached) / divisor:.1f}"


def _table(headers: Sequence[str], rows: list[list[str]], keep: Sequence[int] = (0,)) -> str:
    """A GitHub-style table without the columns that are empty in every row (but those in ``keep``).

    Each column is as wide as its widest cell or header (tabulate would pad every header by two
    more, 8 of the 120 columns of the real suite's table)."""
    shown = [i for i in range(len(headers)) if i in keep or any(row[i] != EMPTY for row in rows)]
    cells = [[headers[i] for i in shown], *([row[i] for i in shown] for row in rows)]
    widths = [max(len(row[k]) for row in cells) for k in range(len(shown))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    return "\n".join([lines[0], "|" + "|".join("-" * (width + 2) for width in widths) + "|", *lines[1:]])


def _by_task(results: Results) -> dict[str, dict[str, TaskResult]]:
    by_task: dict[str, dict[str, TaskResult]] = {}
    for result in results.results:
        by_task.setdefault(result.task, {})[result.method] = result
    return by_task


def scores_table(results: Results) -> str:
    return _scores(results)[0]


def _scores(results: Results) -> tuple[str, list[str]]:
    """The scores table, and the figures too wide for its metric column ("demo_captions: audio_to_text …")."""
    tasks = results.tasks
    by_task = _by_task(results)
    unit, divisor = _time_unit(results.results)
    rows, below = [], []
    for name in (t for t in tasks if t in by_task):
        got = by_task[name]
        mlp, knn = got.get("mlp"), got.get("knn")
        ref_mlp, ref_knn = reference(name, "mlp"), reference(name, "knn")
        metric = _metric(tasks[name].metric, mlp or knn)
        if len(metric) > METRIC_WIDTH:
            metric, extra = tasks[name].metric, metric[len(tasks[name].metric) + 2 : -1]
            below.append(f"{name} {metric}: {extra}")
        rows.append(
            [
                name + (PRIVATE_MARK if tasks[name].private else ""),
                metric,
                _score(mlp.score if mlp else None, mlp.seed_std if mlp else None) + chosen_mark(mlp),
                _score(knn.score if knn else None, knn.seed_std if knn else None) + chosen_mark(knn),
                _fmt(last_layer_score(mlp)),
                _fmt(ref_mlp),
                _fmt(mlp.score - ref_mlp if mlp and ref_mlp is not None else None, signed=True),
                _fmt(ref_knn),
                _seconds(list(got.values()), divisor),
            ]
        )
    ref = REFERENCE_ENCODER
    headers = ["task", "metric", "MLP", "kNN", "MLP last layer", f"{ref} MLP", "Δ MLP", f"{ref} kNN{KNN_MARK}", unit]
    return _table(headers, rows, keep=(0, 1, 2)), below


def _covered(average: Average, results: Results) -> str:
    """``7`` when the average covers every task of the run with that method and scope, else which are out."""
    candidates = [
        r.task
        for r in results.results
        if r.method == average.method and (average.scope == "all" or not results.tasks[r.task].private)
    ]
    out = [t for t in candidates if t not in average.tasks]
    if not out:
        return str(len(average.tasks))
    named = ", ".join(out[:4]) + (f" and {len(out) - 4} more" if len(out) > 4 else "")
    return f"{len(average.tasks)} (not {named})"


def averages_table(results: Results) -> str:
    """One row per method and scope; where the public tasks are all the tasks, one row says both."""
    averages = results.averages()
    public = {a.method: a for a in averages if a.scope == "public"}
    rows = []
    for a in averages:
        same = a.scope == "all" and a.method in public and public[a.method].tasks == a.tasks
        if same:
            continue
        both = a.scope == "public" and any(
            b.method == a.method and b.scope == "all" and b.tasks == a.tasks for b in averages
        )
        rows.append(
            [
                f"{a.method.upper() if a.method == 'mlp' else 'kNN'}, {'public and all' if both else a.scope}",
                _score(a.score, a.std),
                _fmt(a.reference) + (KNN_MARK if a.method == "knn" and a.reference is not None else ""),
                _covered(a, results),
            ]
        )
    return _table(["weighted average", "score", REFERENCE_ENCODER, "tasks"], rows, keep=(0, 1, 3))


def render(results: Results) -> str:
    """The scores and averages tables, the kNN footnote where a † shows, and what did not run (or
    failed) and why."""
    parts = []
    if not results.results:
        count = len(results.skipped) + len(results.failed)
        parts.append(f"0 tasks ran: {count} item{'s' if count != 1 else ''} did not run.")
    else:
        table, below = _scores(results)
        averages = averages_table(results)
        parts += [table, *below, *layer_lines(results), "", averages]
        if any(chosen_mark(r) for r in results.results):
            parts += textwrap.wrap(LAYER_NOTE, WIDTH)
        weighted = sorted({r.task for r in results.results if "weights" in r.layers})
        if weighted:
            text = f"scored on a learned weighted sum of the encoder's layers: {', '.join(weighted)}"
            parts += textwrap.wrap(text, WIDTH)
        note = seeds_note(results)
        if note:
            parts.append(note)
        if KNN_MARK in table or KNN_MARK in averages:
            parts.append(KNN_FOOTNOTE)
        if any(results.tasks[r.task].private for r in results.results):
            parts.append(PRIVATE_FOOTNOTE)
        apart = sorted({r.task for r in results.results if not results.tasks[r.task].averaged})
        if apart:
            parts.append(f"not in the weighted averages (no X-ARES weight): {', '.join(apart)}")
        stored = {r.task: r.bytes_stored for r in results.results}  # a task's methods share its embeddings
        parts.append(f"embeddings cached for these tasks: {sum(stored.values()) / 1e6:.1f} MB")
    for heading, items in (("failed:", results.failed), ("not run:", results.skipped)):
        if items:
            parts += ["", heading, *by_reason(items)]
    return "\n".join(parts)


def by_reason(items: Mapping[str, str]) -> list[str]:
    """Items (``task::method``) that did not run or failed, one line per reason: ``  a, b: why``."""
    grouped: dict[str, list[str]] = {}
    for item, reason in items.items():
        grouped.setdefault(reason, []).append(item)
    return [f"  {', '.join(names)}: {reason}" for reason, names in grouped.items()]


def about(results: Results, suite: str | None = None, versions: Mapping[str, Any] | None = None) -> str:
    """What the run was: ``Suite `demo`; encoder `…`; seed 42; pytest-xares 0.1.0, protocol 3, torch 2.13.0``."""
    parts = [f"suite `{suite}`"] if suite else []
    if results.encoder:
        parts.append(f"encoder `{results.encoder}`")
    n = results.seeds
    parts.append(f"seed {results.seed}" if n < 2 else f"seeds {results.seed}–{results.seed + n - 1} (mean ± std)")
    if versions:
        named = {"pytest_xares": "pytest-xares", "protocol": "protocol", "torch": "torch", "python": "Python"}
        parts.append(", ".join(f"{label} {versions[key]}" for key, label in named.items() if versions.get(key)))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def markdown(
    results: Results,
    baseline: Baseline | None = None,
    suite: str | None = None,
    versions: Mapping[str, Any] | None = None,
) -> str:
    """What the run was, then scores, intervals, baseline and differences, published references,
    then the averages."""
    rows = []
    for r in results.results:
        layers = r.layers.get("selection", "last")
        verdict = baseline.judge(r.task, r.method, r.score, layers=layers) if baseline is not None else None
        published = reference(r.task, r.method)
        rows.append(
            [
                r.task,
                r.method,
                _metric(r.metric, r),
                _score(r.score, r.seed_std),
                f"{r.interval[0]:.3f}–{r.interval[1]:.3f}",
                _fmt(verdict.baseline if verdict else None),
                _fmt(verdict.difference if verdict else None, signed=True)
                + _MARKS.get(verdict.status if verdict else "", ""),
                _fmt(published) + (KNN_MARK if r.method == "knn" and published is not None else ""),
            ]
        )
    headers = ["task", "method", "metric", "score", "95 % CI", "baseline", "Δ", f"{REFERENCE_ENCODER} (published)"]
    if any(r.layers for r in results.results):  # a run on other layers than the last says which, row by row
        headers.insert(4, "layers")
        for row, r in zip(rows, results.results):
            row.insert(4, _layers_cell(r))
    body = _table(headers, rows, keep=range(len(headers)))  # every column: a fixed layout for whoever reads it
    body += _layer_tables(results)
    averages = averages_table(results)
    footnote = f"\n\n{KNN_FOOTNOTE}" if KNN_MARK in body or KNN_MARK in averages else ""
    note = seeds_note(results)
    footnote += f"\n\n{note}" if note else ""
    return f"### {title(results)}\n\n{about(results, suite, versions)}\n\n{body}\n\n{averages}{footnote}\n"


_MARKS = {"regressed": " ❌", "improved": " ⬆", "missing": "", "mismatch": " ≠ layers"}


def _layers_cell(result: TaskResult) -> str:
    """What a Markdown row's score is of: ``last``, ``weighted``, or the chosen layer (``7 of all``)."""
    layers = result.layers
    if not layers:
        return "last"
    if "weights" in layers:
        return "weighted"
    numbers = layers.get("layers", [])
    return f"{layers['chosen']} of {layers['selection']}" if len(numbers) > 1 else f"{layers['chosen']}"


def _layer_tables(results: Results) -> str:
    """Markdown tables of every layer's score and of the learned layer weights, a row per task and
    method, a column per layer; empty where the run scored only one layer per item."""
    parts = []
    for name, key, digits in (("Scores by layer", "scores", 3), ("Learned layer weights", "weights", 2)):
        chosen = [r for r in results.results if key in r.layers and len(r.layers.get("layers", [])) > 1]
        if not chosen:
            continue
        numbers = sorted({n for r in chosen for n in r.layers["layers"]})
        rows = []
        for r in chosen:
            values = dict(zip(r.layers["layers"], r.layers[key]))
            cells = [EMPTY if n not in values else f"{values[n]:.{digits}f}" for n in numbers]
            if key == "scores":  # the chosen layer in bold
                cells = [f"**{c}**" if n == r.layers.get("chosen") else c for n, c in zip(numbers, cells)]
            rows.append([r.task, r.method, *cells])
        parts.append(
            f"\n\n{name}:\n\n" + _table(["task", "method", *map(str, numbers)], rows, keep=range(2 + len(numbers)))
        )
    return "".join(parts)
