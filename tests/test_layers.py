"""``--xares-layers``: an encoder's hidden states encoded once, scored layer by layer or as a
learned weighted sum, with checks, cache entries, gates, tables and estimates of their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import pytest_xares
from pytest_xares.embeddings.encode import Clip, encode
from pytest_xares.embeddings.sets import EmbeddingSet, FrameSet
from pytest_xares.encoder import EncoderError, EncoderSpec, LoadedEncoder, build
from pytest_xares.encoder.checks import CHECKS, CheckFailure, CheckSkipped
from pytest_xares.encoder.layers import LayerError, Layers, run_layers
from pytest_xares.engine.estimate import estimate_task
from pytest_xares.errors import UsageError
from pytest_xares.heads.layers import LayerMix, mixed, mixture
from pytest_xares.heads.linear import linear_head, train_linear
from pytest_xares.heads.train import TrainConfig
from pytest_xares.outputs.compare import Column, compare, render
from pytest_xares.results.baseline import Baseline
from pytest_xares.results.scores import Results, TaskResult
from pytest_xares.results.table import markdown
from pytest_xares.results.table import render as render_results
from pytest_xares.settings import Settings
from pytest_xares.task import ClipTask, splits
from pytest_xares.testing import BANDS_ENCODER, LAYERED_ENCODER, encoder_file

LAYERS = 4  # LAYERED_ENCODER's hidden states


def built(directory: Path, body: str = LAYERED_ENCODER) -> torch.nn.Module:
    return build(EncoderSpec.parse(str(encoder_file(directory, body)), directory)).eval()


def clips(count: int = 6, seconds: float = 0.5) -> list[Clip]:
    rng = np.random.default_rng(0)
    return [
        Clip(i, f"shard/{i}", (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), {"label": "a"})
        for i in range(count)
    ]


class Sink:
    def __init__(self) -> None:
        self.frames: dict[int, np.ndarray] = {}

    def write(self, index: int, frames: np.ndarray) -> None:
        self.frames[index] = frames


# The selection


@pytest.mark.parametrize(
    ("text", "mode", "count", "chosen"),
    [
        ("last", "last", 13, [12]),
        ("all", "all", 13, list(range(13))),
        ("weighted", "weighted", 4, [0, 1, 2, 3]),
        ("3, 6,12", "list", 13, [3, 6, 12]),
        ("-1", "list", 13, [12]),
    ],
)
def test_a_selection_names_the_layers_it_scores(text: str, mode: str, count: int, chosen: list[int]) -> None:
    selection = Layers.parse(text)
    assert selection.mode == mode and selection.chosen(count) == chosen
    assert Layers.parse(str(selection)) == selection


@pytest.mark.parametrize("text", ["", "first", "3,,6", "3,3", "1.5"])
def test_a_selection_that_is_none_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Layers.parse(text)


def test_a_layer_the_encoder_lacks_is_named_with_the_ones_it_has() -> None:
    with pytest.raises(LayerError, match=r"the encoder has 4 layers \(0–3, or -1 for the last\), not 7, -5"):
        Layers.parse("1,7,-5").chosen(4)


def test_a_layer_named_twice_is_refused() -> None:
    with pytest.raises(LayerError, match="a layer is named twice"):
        Layers.parse("3,-1").chosen(4)


def test_the_option_names_itself_when_its_value_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--xares-layers"):
        Settings.with_defaults(layers="deepest", cache_dir=tmp_path)
    settings = Settings.with_defaults(layers="all", frame_layers="2,3", cache_dir=tmp_path)
    assert settings.layers == Layers("all") and settings.frame_layers == Layers("list", (2, 3))


# How an encoder exposes its layers


def test_an_encoder_exposes_its_layers_by_a_method_or_by_returning_them(tmp_path: Path) -> None:
    encoder = built(tmp_path)
    audio = torch.from_numpy(clips(2)[0].audio)[None]
    every = run_layers(encoder, audio, all_layers=True)
    assert len(every) == LAYERS and torch.equal(every[-1], encoder(audio))
    assert [t.shape for t in run_layers(encoder, audio, all_layers=False)] == [every[-1].shape]

    class Returning(torch.nn.Module):
        def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(every)

    assert torch.equal(run_layers(Returning(), audio, all_layers=False)[0], every[-1])
    assert len(run_layers(Returning(), audio, all_layers=True)) == LAYERS
    bands = built(tmp_path, BANDS_ENCODER)
    assert len(run_layers(bands, audio, all_layers=True)) == 1  # no hidden states: the output alone


@pytest.mark.parametrize("returned", [[], "a string", [1, 2]])
def test_an_output_that_is_neither_tensor_nor_tensors_is_refused(returned: Any) -> None:
    class Odd(torch.nn.Module):
        def forward(self, audio: torch.Tensor) -> Any:
            return returned

    with pytest.raises(LayerError, match=r"forward\(\) returned .*return one tensor"):
        run_layers(Odd(), torch.zeros(1, 160), all_layers=True)


# Encoding: one pass for every layer


def test_one_pass_pools_every_layer_side_by_side(tmp_path: Path) -> None:
    encoder = built(tmp_path)
    cpu = torch.device("cpu")
    last, _ = encode(encoder, cpu, clips(), batch_size=4)
    every, _ = encode(encoder, cpu, clips(), batch_size=4, layers=lambda count: list(range(count)))
    assert every.layers == (0, 1, 2, 3) and every.features.shape == (6, LAYERS * 16)
    assert np.array_equal(every.layer(3).features, last.features)  # the last layer is the output
    audio = torch.from_numpy(clips()[2].audio)[None]
    with torch.inference_mode():
        states = encoder.hidden_states(audio)
    for number in range(LAYERS):
        np.testing.assert_allclose(every.layer(number).features[2], states[number][0].mean(0).numpy(), rtol=1e-5)


def test_frames_keep_only_the_listed_layers(tmp_path: Path) -> None:
    sink = Sink()
    chosen = Layers.parse("1,-1")
    pooled, _ = encode(built(tmp_path), torch.device("cpu"), clips(3), 2, frames=sink, layers=chosen.chosen)
    assert pooled.layers == (1, 3) and sink.frames[0].shape == (50, 2 * 16)
    split = FrameSet(np.concatenate([sink.frames[i] for i in range(3)]), np.array([0, 50, 100]), np.array([50] * 3),
                     pooled.keys, pooled.metadata, 0.01, pooled.layers)  # fmt: skip
    assert np.array_equal(split.layer(3).sample(1), sink.frames[1][:, 16:])
    with pytest.raises(KeyError, match="layer 2 is not among the stored layers"):
        split.layer(2)


def test_an_encoder_whose_layers_change_between_batches_is_stopped(tmp_path: Path) -> None:
    body = LAYERED_ENCODER.replace("return states", "return states if audio.shape[0] > 1 else states[:2]")
    with pytest.raises(EncoderError, match="returned 2 hidden states .* but 4 for the first batch"):
        encode(built(tmp_path, body), torch.device("cpu"), clips(3), 2, layers=lambda n: list(range(n)))


# The weighted sum


def test_the_weighted_sum_starts_as_the_mean_of_the_standardised_layers() -> None:
    mix = LayerMix(3, 4)
    rows = torch.randn(5, 12) * torch.tensor([1.0] * 4 + [100.0] * 4 + [0.01] * 4)
    expected = torch.nn.functional.layer_norm(rows.unflatten(1, (3, 4)), (4,)).mean(1)
    torch.testing.assert_close(mix(rows), expected)
    assert mix.mixture() == pytest.approx([1 / 3] * 3)
    assert mixture(mixed(3, 12, lambda dim: linear_head(dim, 2))) == pytest.approx([1 / 3] * 3)
    assert mixture(mixed(1, 12, lambda dim: linear_head(dim, 2))) is None


def test_the_learned_weights_find_the_layer_that_holds_the_labels() -> None:
    rng = np.random.default_rng(0)

    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 2, count)
        layers = rng.standard_normal((count, 3, 8)).astype(np.float32)
        layers[:, 1, 0] += 3.0 * (2 * labels - 1)  # only layer 1 knows the class
        return layers.reshape(count, 24), labels

    train, valid = split(400), split(200)
    config = TrainConfig(epochs=30, batch_size=32, learning_rate=1e-2, seed=0)
    loss = torch.nn.functional.cross_entropy
    accuracy = lambda out, y: float((out.argmax(1) == y).mean())
    _, log = train_linear(train, valid, valid[0], 2, loss, accuracy, config, layers=3)
    assert log.layer_weights is not None and sum(log.layer_weights) == pytest.approx(1.0)
    assert int(np.argmax(log.layer_weights)) == 1 and log.layer_weights[1] > 0.5


# The check


def test_the_hidden_states_check_passes_a_correct_encoder_and_counts_its_layers(tmp_path: Path) -> None:
    assert CHECKS["hidden_states"].run(built(tmp_path), torch.device("cpu")) == {"layers": LAYERS}


def test_the_hidden_states_check_does_not_apply_without_hidden_states(tmp_path: Path) -> None:
    with pytest.raises(CheckSkipped, match="exposes no hidden states"):
        CHECKS["hidden_states"].run(built(tmp_path, BANDS_ENCODER), torch.device("cpu"))
    report = pytest_xares.check_encoder(built(tmp_path, BANDS_ENCODER), cache_dir=tmp_path)
    assert report and report.checks["hidden_states"].outcome == "skipped" and "not applicable" in str(report)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("return self.hidden_states(audio)[-1]", "return self.hidden_states(audio)[-1] * 2"), "the last hidden state"),
        (
            ("        return states\n", "        return [states[0][:, 1:], *states[1:]]\n"),
            "hidden state 0 of 4 has shape",
        ),
        (("[super().forward(audio)]", "[audio.shape[0] + super().forward(audio)]"), "hidden state 0 of clip 1 encoded"),
    ],
)
def test_the_hidden_states_check_says_what_is_wrong(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    body = LAYERED_ENCODER.replace(*change)
    assert body != LAYERED_ENCODER
    with pytest.raises(CheckFailure, match=message):
        CHECKS["hidden_states"].run(built(tmp_path, body), torch.device("cpu"))


# A run


def run(
    tmp_path: Path, encoder: str = LAYERED_ENCODER, tasks: tuple[str, ...] = ("demo_pitch",), **options: Any
) -> Results:
    return pytest_xares.evaluate(
        built(tmp_path, encoder),
        tasks=list(tasks),
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        progress=False,
        **options,
    )


def test_every_layer_is_scored_and_the_last_one_as_the_protocol_scores_it(tmp_path: Path) -> None:
    last = run(tmp_path)
    every = run(tmp_path, layers="all")
    for method in ("mlp", "knn"):
        plain = next(r for r in last.results if r.method == method)
        result = next(r for r in every.results if r.method == method)
        info = result.layers
        assert info["selection"] == "all" and info["layers"] == [0, 1, 2, 3] and info["count"] == LAYERS
        assert info["scores"][-1] == pytest.approx(plain.score, abs=1e-6)  # same embeddings, same head, same seed
        best = max(range(LAYERS), key=lambda k: (info["valid"][k], k))
        assert info["chosen"] == best and result.score == pytest.approx(info["scores"][best], abs=1e-6)
        assert plain.layers == {}
    text = render_results(every)
    assert "demo_pitch MLP by layer: 0 " in text and f"@{every.results[0].layers['chosen']}" in text
    assert "| MLP last layer" in text


def test_the_weighted_sum_is_scored_with_its_weights_and_knn_on_the_last_layer(tmp_path: Path) -> None:
    results = run(tmp_path, layers="weighted", tasks=("demo_pitch", "demo_events"), frame_layers="weighted")
    by = {(r.task, r.method): r for r in results.results}
    for key in (("demo_pitch", "mlp"), ("demo_events", "mlp")):
        weights = by[key].layers["weights"]
        assert len(weights) == LAYERS and sum(weights) == pytest.approx(1.0, abs=1e-5)
        assert by[key].details["folds"][0]["layer_weights"] is not None
    assert by["demo_pitch", "knn"].layers["layers"] == [LAYERS - 1]
    text = render_results(results)
    assert "demo_pitch MLP layer weights: 0 " in text and "weighted sum of the encoder's layers" in text
    report = markdown(results)
    assert "Learned layer weights:" in report and "| weighted |" in report


def test_frame_tasks_keep_the_last_layer_unless_asked(tmp_path: Path) -> None:
    results = run(tmp_path, layers="all", tasks=("demo_events",))
    assert [r.layers for r in results.results] == [{}]
    listed = run(tmp_path, tasks=("demo_events",), frame_layers="0,2")
    info = listed.results[0].layers
    assert info["layers"] == [0, 2] and "count" not in info  # only the listed layers' frames are stored
    sizes = sorted(path.stat().st_size for path in (tmp_path / "cache").rglob("*.f16"))
    assert len(sizes) == 2 * len(listed.results[0].details["encoded"])  # each split: the last layer's, then two
    single = [size for size in sizes if 2 * size in sizes]
    assert sorted(single + [2 * size for size in single]) == sizes


def test_an_encoder_without_hidden_states_is_told_what_layers_need(tmp_path: Path) -> None:
    results = run(tmp_path, encoder=BANDS_ENCODER, layers="all")
    assert not results.results
    assert all("exposes no hidden states" in reason for reason in results.skipped.values())
    listed = run(tmp_path, layers="2,9")
    assert all("has 4 layers (0–3, or -1 for the last), not 9" in r for r in listed.skipped.values())


def test_a_baseline_entry_of_other_layers_fails_the_gate_for_comparing_unlike(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    baseline = Baseline(path, 0.05, {})
    path.write_text(json.dumps(baseline.updated({("t", "mlp"): 0.8}, layers={("t", "mlp"): "weighted"})))
    loaded = Baseline.load(path)
    assert loaded.entries["t"]["mlp"].layers == "weighted"
    assert loaded.judge("t", "mlp", 0.8, layers="weighted").status == "pass"
    verdict = loaded.judge("t", "mlp", 0.9)
    assert verdict.status == "mismatch" and "scores the layers 'weighted', this run 'last'" in verdict.message(
        "t", "mlp", 0.9
    )


def test_the_gate_of_a_run_fails_an_item_scored_on_other_layers(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, LAYERED_ENCODER)
    baseline = pytester.path / "baseline.json"
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny and mlp", "-p", "no:cacheprovider"]
    pytester.runpytest(*args, f"--xares-baseline={baseline}", "--xares-update-baseline", "--xares-layers=all")
    assert json.loads(baseline.read_text())["scores"]["tiny"]["mlp"]["layers"] == "all"
    result = pytester.runpytest(*args, f"--xares-baseline={baseline}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*scores the layers 'all', this run 'last'*"])


def test_the_estimate_counts_every_layer_an_entry_holds(tmp_path: Path) -> None:
    from pytest_xares.testing import write_tone_shard

    task = ClipTask(
        name="tones", formal_name="Tones", splits=splits("a", "a", "a"), label="label", classes=("a", "b"), weight=1
    )
    write_tone_shard(tmp_path / "tones" / "a_000000.tar", ["a", "b"] * 40, seed=0)
    loaded = LoadedEncoder(built(tmp_path), "", torch.device("cpu"))
    one = estimate_task(task, loaded, tmp_path, None, 16)
    four = estimate_task(task, loaded, tmp_path, None, 16, layers=(4, 1))
    assert one.cache_bytes is not None and four.cache_bytes is not None
    assert four.cache_bytes - one.cache_bytes == 80 * 16 * 4 * 3  # three more float32 vectors a clip
    assert "4 layers of the encoder" in four.note


def test_a_comparison_says_which_layer_each_score_is_of(tmp_path: Path) -> None:
    def result(score: float, layers: dict[str, Any]) -> TaskResult:
        return TaskResult("demo_pitch", "mlp", "accuracy", score, [score], (0.0, 1.0), {}, {}, 0, "f", "cpu", 42,
                          layers=layers)  # fmt: skip

    def column(label: str, layers: dict[str, Any]) -> Column:
        tasks = {t.name: t for t in pytest_xares.api.resolve_tasks(["demo_pitch"], "demo")}
        return Column(label, Results([result(0.5, layers)], tasks, {}, label, 42), (f"{label}.json",))

    chosen = {"selection": "all", "layers": [0, 1, 2], "scores": [0.4, 0.5, 0.3], "valid": [0, 1, 0], "chosen": 1}
    text = render(compare([column("a", chosen), column("b", {"selection": "weighted", "weights": [0.5, 0.5]})]))
    assert "0.500 @1" in text and "0.500 w" in text and "@n: the score of the encoder's layer n" in text


def test_split_layers_are_views_of_their_columns() -> None:
    features = np.arange(24, dtype=np.float32).reshape(2, 12)
    split = EmbeddingSet(features, ["a", "b"], [{}, {}], (0, 5, 9))
    assert split.layer_count == 3 and np.array_equal(split.layer(5).features, features[:, 4:8])
    assert split.layer(5).layers == () and EmbeddingSet.concatenate([split, split]).layers == (0, 5, 9)


def test_a_small_random_wav2vec2_is_scored_on_every_layer_and_on_their_weighted_sum(tmp_path: Path) -> None:
    """The real architecture (transformers' Wav2Vec2Model, randomly initialised, 3 hidden states)
    through clip and frame tasks with both selections, drawn by layer."""
    from test_example_encoders import tiny_wav2vec2

    from pytest_xares.outputs.plot import plot_scores

    def run_wav2vec2(layers: str, frame_layers: str) -> Results:
        return pytest_xares.evaluate(
            tiny_wav2vec2(),
            tasks=["demo_pitch", "demo_events"],
            data_dir=tmp_path / "data",
            cache_dir=tmp_path / "cache",
            progress=False,
            layers=layers,
            frame_layers=frame_layers,
        )

    every = run_wav2vec2("all", "weighted")
    weighted = run_wav2vec2("weighted", "all")  # the same embeddings: only the heads train again
    assert not every.skipped and not weighted.skipped
    for results, clip_key, frame_key in ((every, "scores", "weights"), (weighted, "weights", "scores")):
        by = {(r.task, r.method): r.layers for r in results.results}
        assert len(by["demo_pitch", "mlp"][clip_key]) == 3 and len(by["demo_events", "mlp"][frame_key]) == 3
    assert all(r.cached is False for r in weighted.results if r.method == "mlp")
    written = plot_scores(every, tmp_path / "scores.png")
    assert [path.name for path in written] == ["scores.png", "scores-layers.png"]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in written)


def test_an_estimate_of_every_layer_stores_nothing(pytester: pytest.Pytester, tiny_task: Path, tmp_path: Path) -> None:
    spec = encoder_file(pytester.path, LAYERED_ENCODER)
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-p", "no:cacheprovider"]
    last = pytester.runpytest(*args, "--xares-estimate")
    every = pytester.runpytest(*args, "--xares-estimate", "--xares-layers=all")
    every.assert_outcomes(passed=1)
    every.stdout.fnmatch_lines(["| tiny *4 layers of the encoder*"])
    assert not (tmp_path / "xares-cache").exists()
    stored = [next(line for line in run.outlines if line.startswith("| tiny ")).split("|")[5] for run in (last, every)]
    assert stored[0] != stored[1]
