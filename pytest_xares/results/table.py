"""The results as text: the scores table and the averages (what ``print(results)`` and the end of
a run show), and the Markdown report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tabulate import tabulate

from pytest_xares.results.baseline import Baseline
from pytest_xares.results.references import REFERENCE_ENCODER, reference

if TYPE_CHECKING:
    from pytest_xares.results.scores import Results, TaskResult

KNN_FOOTNOTE = (
    f"† published {REFERENCE_ENCODER} kNN scores come from X-ARES 0.1.3, whose kNN normalised the training "
    "features per dimension instead of per sample; they are shown for orientation, not for comparison."
)


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _seconds(results: list[TaskResult]) -> str:
    if results and all(r.cached for r in results):
        return "cached"
    total = sum(r.seconds.get("total", 0.0) for r in results if not r.cached)
    return f"{total:.1f} s" if total < 120 else f"{total / 60:.1f} min"


def _metric(metric: str, result: TaskResult | None) -> str:
    """The metric's name, with the figures reported beside the score: "pearson (mse 1.234)"."""
    extra = result.extra if result is not None else {}
    return metric + (f" ({', '.join(f'{k} {v:.3f}' for k, v in extra.items())})" if extra else "")


def scores_table(results: Results) -> str:
    tasks = results.tasks
    by_task: dict[str, dict[str, TaskResult]] = {}
    for result in results.results:
        by_task.setdefault(result.task, {})[result.method] = result
    rows = []
    for name in (t for t in tasks if t in by_task):
        got = by_task[name]
        mlp, knn = got.get("mlp"), got.get("knn")
        ref_mlp, ref_knn = reference(name, "mlp"), reference(name, "knn")
        rows.append(
            [
                name + (" (private)" if tasks[name].private else ""),
                _metric(tasks[name].metric, mlp or knn),
                _fmt(mlp.score if mlp else None),
                _fmt(knn.score if knn else None),
                _fmt(ref_mlp),
                _fmt(mlp.score - ref_mlp if mlp and ref_mlp is not None else None, signed=True),
                _fmt(ref_knn),
                _seconds(list(got.values())),
            ]
        )
    headers = ["task", "metric", "MLP", "kNN", f"{REFERENCE_ENCODER} MLP", "Δ MLP", f"{REFERENCE_ENCODER} kNN†", "time"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def averages_table(results: Results) -> str:
    rows = [
        [
            f"{a.method.upper() if a.method == 'mlp' else 'kNN'}, {a.scope}",
            _fmt(a.score),
            _fmt(a.reference) + ("†" if a.method == "knn" and a.reference is not None else ""),
            f"{len(a.tasks)}: {', '.join(a.tasks)}",
        ]
        for a in results.averages()
    ]
    headers = ["weighted average", "score", REFERENCE_ENCODER, "tasks covered"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render(results: Results) -> str:
    """The scores and averages tables, the kNN footnote, and what did not run (or failed) and why."""
    parts = []
    if not results.results:
        count = len(results.skipped) + len(results.failed)
        parts.append(f"0 tasks ran: {count} item{'s' if count != 1 else ''} did not run.")
    else:
        parts += [scores_table(results), "", averages_table(results), KNN_FOOTNOTE]
        apart = sorted({r.task for r in results.results if not results.tasks[r.task].averaged})
        if apart:
            parts.append(f"not in the weighted averages (no X-ARES weight): {', '.join(apart)}")
        stored = {r.task: r.bytes_stored for r in results.results}  # a task's methods share its embeddings
        parts.append(f"embeddings cached for these tasks: {sum(stored.values()) / 1e6:.1f} MB")
    for title, items in (("failed:", results.failed), ("not run:", results.skipped)):
        if items:
            grouped: dict[str, list[str]] = {}
            for item, reason in items.items():
                grouped.setdefault(reason, []).append(item)
            parts += ["", title] + [f"  {', '.join(names)}: {reason}" for reason, names in grouped.items()]
    return "\n".join(parts)


def markdown(results: Results, baseline: Baseline | None = None) -> str:
    """Scores, intervals, baseline and differences, published references, then the averages."""
    rows = []
    for r in results.results:
        verdict = baseline.judge(r.task, r.method, r.score) if baseline is not None else None
        published = reference(r.task, r.method)
        rows.append(
            [
                r.task,
                r.method,
                _metric(r.metric, r),
                _fmt(r.score),
                f"{r.interval[0]:.3f}–{r.interval[1]:.3f}",
                _fmt(verdict.baseline if verdict else None),
                _fmt(verdict.difference if verdict else None, signed=True)
                + _MARKS.get(verdict.status if verdict else "", ""),
                _fmt(published) + ("†" if r.method == "knn" and published is not None else ""),
            ]
        )
    headers = ["task", "method", "metric", "score", "95 % CI", "baseline", "Δ", f"{REFERENCE_ENCODER} (published)"]
    title = f"### X-ARES scores: {results.encoder}\n\n" if results.encoder else ""
    body = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    return f"{title}{body}\n\n{averages_table(results)}\n\n{KNN_FOOTNOTE}\n"


_MARKS = {"regressed": " ❌", "improved": " ⬆", "missing": ""}
