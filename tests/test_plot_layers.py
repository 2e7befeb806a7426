"""The picture by layer (``--xares-layers``): per-layer scores and learned weights as heat maps
beside the scores bar chart, and the layer reported named on the bar chart's rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pytest_xares.outputs.plot import figure, layers_figure, plot_scores
from pytest_xares.results.scores import Results, TaskInfo, TaskResult

PNG = b"\x89PNG\r\n\x1a\n"
TASKS: dict[str, Any] = {
    "demo_count": TaskInfo("demo_count", "Demo: source counting", "accuracy", 1.0, False),
    "demo_brightness": TaskInfo("demo_brightness", "Demo: brightness", "pearson", 1.0, False),
}
ALL = list(range(13))


def result(task: str, method: str, score: float, layers: dict[str, Any] | None = None) -> TaskResult:
    metric = TASKS[task].metric
    return TaskResult(
        task, method, metric, score, [score], (score - 0.05, score + 0.05), {}, {"total": 1.0}, 0, "f", "cpu", 42,
        layers=layers or {},
    )  # fmt: skip


def per_layer(layers: list[int], scores: list[float], chosen: int, selection: str = "all") -> dict[str, Any]:
    return {
        "selection": selection,
        "layers": layers,
        "scores": scores,
        "valid": [s - 0.01 for s in scores],
        "chosen": chosen,
    }


def weighted(layers: list[int], weights: list[float]) -> dict[str, Any]:
    return {"selection": "weighted", "layers": layers, "weights": weights}


def panel(drawn: Figure, name: str) -> Axes | None:
    return next((a for a in drawn.axes if a.get_label() == name), None)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


COUNT = [0.30 + 0.04 * n for n in ALL[:8]] + [0.55, 0.5, 0.45, 0.42, 0.4]  # best at layer 7
PITCH_LIKE = [0.9 - 0.01 * n for n in ALL]  # best at layer 0, a pearson's range


def test_the_plot_writes_the_picture_by_layer_beside_the_scores(tmp_path: Path) -> None:
    results = Results([result("demo_count", "mlp", COUNT[7], per_layer(ALL, COUNT, 7))], TASKS, encoder="enc.py")
    path = tmp_path / "plots" / "scores.png"
    written = plot_scores(results, path)
    assert written == [path, tmp_path / "plots" / "scores-layers.png"]
    for where in written:
        assert where.read_bytes().startswith(PNG)
        assert plt.imread(where).ndim == 3  # it reads back as a picture


def test_without_scores_by_layer_there_is_no_picture_by_layer(tmp_path: Path) -> None:
    last = Results([result("demo_count", "mlp", 0.5), result("demo_count", "knn", 0.4)], TASKS)
    assert layers_figure(last) is None
    path = tmp_path / "scores.png"
    assert plot_scores(last, path) == [path]
    assert not (tmp_path / "scores-layers.png").exists()
    # A single layer (a list of one, kNN under weighted) has nothing to compare by layer.
    single = Results([result("demo_count", "knn", 0.4, per_layer([12], [0.4], 12, "weighted"))], TASKS)
    assert layers_figure(single) is None


def test_the_heat_map_holds_each_rows_scores_in_layer_order_and_boxes_the_chosen_layer() -> None:
    knn = [0.2 + 0.01 * n for n in ALL]  # best at the last layer
    results = Results(
        [
            result("demo_brightness", "mlp", PITCH_LIKE[2], per_layer(ALL, PITCH_LIKE, 2)),
            result("demo_count", "knn", knn[12], per_layer(ALL, knn, 12)),
            result("demo_count", "mlp", COUNT[7], per_layer(ALL, COUNT, 7)),
        ],
        TASKS,
        encoder="enc.py",
    )
    drawn = layers_figure(results)
    assert drawn is not None
    assert drawn.get_suptitle() == "X-ARES scores: enc.py by layer"
    axes = panel(drawn, "scores")
    assert axes is not None and panel(drawn, "weights") is None
    rows = [t.get_text() for t in axes.get_yticklabels()]
    assert rows == [
        "Demo: source counting MLP (accuracy)",
        "Demo: source counting kNN (accuracy)",
        "Demo: brightness MLP (pearson)",
    ]
    assert [t.get_text() for t in axes.get_xticklabels()] == [str(n) for n in ALL]
    shown = axes.images[0].get_array()
    for row, scores in zip(shown, (COUNT, knn, PITCH_LIKE)):
        low, high = min(scores), max(scores)
        assert np.allclose(row, [(s - low) / (high - low) for s in scores])  # its own row's range
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert [written[0, j] for j in range(13)] == [f"{s:.3f}" for s in COUNT]
    assert [written[2, j] for j in range(13)] == [f"{s:.3f}" for s in PITCH_LIKE]
    boxes = [p for p in axes.patches if isinstance(p, Rectangle) and p.get_gid() == "chosen"]
    assert sorted((round(b.get_y() + 0.5), round(b.get_x() + 0.5)) for b in boxes) == [(0, 7), (1, 12), (2, 2)]
    bar = next(a for a in drawn.axes if a.get_label() == "<colorbar>")
    assert "relative to its row" in bar.get_ylabel()


def test_the_weights_panel_shows_only_where_results_hold_weights() -> None:
    weights = [0.04] * 13
    weights[9] = 1 - 0.04 * 12
    results = Results(
        [
            result("demo_count", "mlp", 0.6, weighted(ALL, weights)),
            result("demo_count", "knn", 0.4, per_layer([12], [0.4], 12, "weighted")),
        ],
        TASKS,
    )
    drawn = layers_figure(results)
    assert drawn is not None
    assert panel(drawn, "scores") is None  # kNN's single layer has nothing to compare
    axes = panel(drawn, "weights")
    assert axes is not None
    assert [t.get_text() for t in axes.get_yticklabels()] == ["Demo: source counting MLP (accuracy)"]
    assert np.allclose(axes.images[0].get_array(), [weights])
    assert axes.images[0].get_clim() == pytest.approx((0.0, max(weights)))
    both = Results(
        [
            result("demo_count", "mlp", 0.6, weighted(ALL, weights)),
            result("demo_brightness", "mlp", 0.8, per_layer(ALL, PITCH_LIKE, 0)),
        ],
        TASKS,
    )
    drawn = layers_figure(both)
    assert drawn is not None and panel(drawn, "scores") is not None and panel(drawn, "weights") is not None


def test_rows_of_different_layers_share_the_columns_and_leave_the_others_blank() -> None:
    results = Results(
        [
            result("demo_count", "mlp", 0.6, per_layer([3, 6], [0.5, 0.6], 6, "3,6")),
            result("demo_brightness", "mlp", 0.9, per_layer(ALL, PITCH_LIKE, 0)),
        ],
        TASKS,
    )
    drawn = layers_figure(results)
    assert drawn is not None
    axes = panel(drawn, "scores")
    assert axes is not None
    shown = axes.images[0].get_array()
    assert shown.shape == (2, 13)
    assert [j for j in range(13) if not np.ma.getmaskarray(shown)[0, j]] == [3, 6]
    assert list(shown[0, [3, 6]]) == [0.0, 1.0] and not np.ma.getmaskarray(shown)[1].any()
    boxes = [p for p in axes.patches if p.get_gid() == "chosen"]
    assert sorted((round(b.get_y() + 0.5), round(b.get_x() + 0.5)) for b in boxes) == [(0, 6), (1, 0)]
    drawn.canvas.draw()  # the masked cells draw too


def test_a_wide_grid_is_read_by_its_colours_alone() -> None:
    layers = list(range(25))
    scores = [0.5 + 0.01 * n for n in layers]
    drawn = layers_figure(Results([result("demo_count", "mlp", scores[-1], per_layer(layers, scores, 24))], TASKS))
    assert drawn is not None
    axes = panel(drawn, "scores")
    assert axes is not None and not axes.texts


def test_the_bar_chart_names_the_layer_each_row_is_of() -> None:
    results = Results(
        [
            result("demo_count", "mlp", COUNT[7], per_layer(ALL, COUNT, 7)),
            result("demo_count", "knn", COUNT[7], per_layer(ALL, COUNT, 7)),
            result("demo_brightness", "mlp", 0.8, weighted(ALL, [1 / 13] * 13)),
            result("demo_brightness", "knn", 0.7, per_layer([12], [0.7], 12, "weighted")),
        ],
        TASKS,
    )
    (axes,) = figure(results).axes
    assert [t.get_text() for t in axes.get_yticklabels()] == [
        "Demo: source counting (layer 7)\naccuracy",
        "Demo: brightness (MLP weighted, kNN layer 12)\npearson",
    ]
