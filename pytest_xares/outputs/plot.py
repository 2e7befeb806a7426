"""A picture of the scores: the encoder's MLP score per task beside the published baselines.

Needs matplotlib (``pip install 'pytest-xares[plot]'``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt

from pytest_xares.results.references import reference, reference_scores
from pytest_xares.results.scores import Results

#: Published encoders drawn as markers; the evaluated encoder is the bar.
PUBLISHED_MARKERS = {"dasheng": "o", "wav2vec2": "s", "whisper": "^", "data2vec": "D"}


def plot_scores(results: Results, path: Path, method: str = "mlp") -> None:
    """Horizontal bars of the encoder's scores, one row per task, published scores as markers."""
    rows = [r for r in results.results if r.method == method]
    names = [results.tasks[r.task].formal_name if r.task in results.tasks else r.task for r in rows]
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.38 * max(len(rows), 1)), dpi=120)
    positions = range(len(rows))
    axes.barh(list(positions), [r.score for r in rows], color="#4c78a8", height=0.6, label=results.encoder or "encoder")
    axes.errorbar(
        [r.score for r in rows],
        list(positions),
        fmt="none",
        ecolor="#1f3552",
        capsize=2,
        linewidth=1,
        # A percentile interval need not contain the score (a skewed metric): never a negative bar.
        xerr=[[max(0.0, r.score - r.interval[0]) for r in rows], [max(0.0, r.interval[1] - r.score) for r in rows]],
    )
    for encoder, marker in PUBLISHED_MARKERS.items():
        if encoder not in reference_scores().get("encoders", []):
            continue
        points = [(reference(r.task, method, encoder), i) for i, r in zip(positions, rows)]
        points = [(x, y) for x, y in points if x is not None]
        if points:
            xs, ys = zip(*points)
            axes.scatter(xs, ys, marker=marker, s=28, zorder=3, label=f"{encoder} (published)")
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlim(min([0.0] + [r.interval[0] for r in rows]), 1)  # a correlation may be negative
    axes.set_xlabel(f"{method.upper() if method == 'mlp' else 'kNN'} score (bars: 95 % interval)")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize="small", framealpha=0.9)
    axes.set_title(f"X-ARES: {results.encoder or 'encoder'}", fontsize="medium")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)
