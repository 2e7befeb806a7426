"""What ``--xares-layers`` costs: encoding every hidden layer beside the output alone, and the heads'
training time as the number of layers grows.

    python benchmarks/layers.py [--clips 24] [--seconds 4] [--rounds 3] [--batch-size 8]
                                [--train 2000] [--eval 500] [--dim 768] [--classes 10] [--epochs 50]
                                [--head-layers 1,4,13] [--head-rounds 3]

- **Encoding**: a randomly initialised (seeded) wav2vec 2.0 of the base architecture
  (``Wav2Vec2Config()``: 12 transformer layers, 768 wide, 13 hidden states) in the example
  ``Wav2Vec2Encoder`` encodes the same ``--clips`` clips of noise at 16 kHz with the engine's
  ``encode``: the output alone (``last``) and every hidden state (``all``, ``weighted``), for
  ``--rounds`` rounds, each batch in both ways back to back (which goes first alternates).
  Printed: each way's median wall time of a round (``forward s``: of the encoder calls inside
  it), the median ratio all / last of the pairs, the pooled row per clip each stores (L × D × 4
  bytes against D × 4), and what a frame task stores per second of audio (frames/s × D × 2 bytes
  of float16 × layers).
- **Heads**: the linear probe of clip tasks (``heads.classes``, trained as a demo clip task is:
  ``--epochs`` 50, batches of 32, learning rate 1e-2) on synthetic pooled embeddings of ``--train`` /
  ``--eval`` / ``--eval`` clips, ``--dim`` wide, ``--classes`` classes, as if from an encoder of L
  layers, trained through the engine's ``train_layers``: ``all`` (L heads, one per layer) and
  ``weighted`` (one head on the learned mix of the L layers). L = 1 is the one head of ``last``,
  the baseline of both. After one untimed head, each L is timed ``--head-rounds`` times, the
  order of the L reversed every other round; the medians are printed, per layer and as ratios to
  L = 1. The test accuracy (of the headline: for ``all`` the layer of the best validation score)
  only shows that the heads learn.

Nothing is downloaded. Measured on this machine (2 shared cores, 2 intra-op threads; figures
from one run, ratios within it)::

    machine: AMD EPYC, 2 cores, torch 2.13.0+cpu (2 intra-op threads), load average 2.3, 4.1, 3.1

    encoding: wav2vec 2.0 base architecture, random weights (94.4M parameters)
    mode    layers    wall s    rounds s             forward s    pooled row/clip    frames/s of audio (fp16)
    ------  --------  --------  -------------------  -----------  -----------------  --------------------------
    last    1         18.39     18.39, 15.03, 19.19  18.39        3,072 B            76.4 kB (0.28 GB/h)
    all     13        18.42     15.15, 19.48, 18.42  18.42        39,936 B           993.4 kB (3.58 GB/h)
    24 clips of 4 s (96 s of audio), batches of 8; 199 frames a clip (49.75/s), 768 wide
    all / last: 1.047 (median of 9 pairs, from 0.68 to 1.72; of the median totals 1.002); pooled rows 13x as large; frames per layer 76.4 kB per second of audio

    heads: the linear probe of clip tasks on synthetic pooled embeddings
    heads                layers L    trained    s      s / L    / L=1    (s / L) / L=1    test accuracy
    -------------------  ----------  ---------  -----  -------  -------  ---------------  ---------------
    last (the baseline)  1           1          0.97   0.97     1.00     1.00             0.258
    all                  4           4          5.05   1.26     5.22     1.30             1.000
    all                  13          13         13.02  1.00     13.46    1.04             1.000
    weighted             4           1          2.12   0.53     2.19     0.55             0.996
    weighted             13          1          4.14   0.32     4.28     0.33             1.000
    2000 / 500 / 500 clips, 768 wide, 10 classes; a head: 50 epochs of 63 steps (3150 steps); medians of 3 rounds
    L = 13: all takes 1.04x the baseline per layer (1.00: linear in L); weighted takes 4.28x the baseline in all

The pairs spread widely on a shared machine; their median, and the ratio of the totals, are the
figures to compare.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from common import machine, table
from transformers import Wav2Vec2Config, Wav2Vec2Model

from pytest_xares.embeddings.encode import Clip, encode
from pytest_xares.embeddings.sets import EmbeddingSet, Split
from pytest_xares.encoder.layers import Layers
from pytest_xares.engine.evaluate import Trained, train_layers
from pytest_xares.example_encoders.wav2vec2 import Wav2Vec2Encoder
from pytest_xares.heads import Fold, train_and_score
from pytest_xares.heads.train import TrainConfig
from pytest_xares.task import ClipTask, splits

CPU = torch.device("cpu")
#: What ``encode`` is given for each way of encoding: the output alone, or every layer kept.
MODES: dict[str, Callable[[int], list[int]] | None] = {"last": None, "all": lambda count: list(range(count))}
#: The layers of the encoder the heads' embeddings imagine (wav2vec 2.0 base's hidden states);
#: fewer layers L keep L of them, evenly spaced, the top one always.
TOTAL_LAYERS = 13


def base_encoder() -> Wav2Vec2Encoder:
    """wav2vec 2.0 base's architecture with random weights from seed 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Wav2Vec2Encoder(Wav2Vec2Model(Wav2Vec2Config()))


def noise_clips(count: int, seconds: float, rate: int, classes: int) -> list[Clip]:
    """``count`` clips of white noise (seeded), each labelled with a class in turn."""
    rng = np.random.default_rng(0)
    samples = int(round(seconds * rate))
    return [
        Clip(i, f"noise/{i:04d}", (0.1 * rng.standard_normal(samples)).astype(np.float32), {"label": i % classes})
        for i in range(count)
    ]


def measure_encoding(
    encoder: Wav2Vec2Encoder, clips: list[Clip], batch_size: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[float], dict[str, EmbeddingSet]]:
    """Wall and forward seconds of each mode per round, the ratio all / last of every pair, and
    each mode's embeddings of the last batch.

    Each round encodes the clips a batch at a time, each batch in both modes back to back (which
    goes first alternates), so the two sides of a pair see the same load on the machine. Both
    modes encode one batch first, untimed: first-call set-up is not what is compared."""
    for layers in MODES.values():
        encode(encoder, CPU, clips[:batch_size], batch_size, layers=layers)
    batches = [clips[start : start + batch_size] for start in range(0, len(clips), batch_size)]
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    forwards: dict[str, list[float]] = {mode: [] for mode in MODES}
    pairs: list[float] = []
    sets: dict[str, EmbeddingSet] = {}
    for round_ in range(rounds):
        wall, forward = dict.fromkeys(MODES, 0.0), dict.fromkeys(MODES, 0.0)
        for number, batch in enumerate(batches):
            pair = {}
            for mode in list(MODES) if (round_ + number) % 2 == 0 else list(reversed(MODES)):
                started = time.perf_counter()
                sets[mode], stats = encode(encoder, CPU, batch, batch_size, layers=MODES[mode])
                pair[mode] = time.perf_counter() - started
                wall[mode] += pair[mode]
                forward[mode] += stats.forward_seconds
            pairs.append(pair["all"] / pair["last"])
        for mode in MODES:
            walls[mode].append(wall[mode])
            forwards[mode].append(forward[mode])
    return walls, forwards, pairs, sets


def encoding_report(
    encoder: Wav2Vec2Encoder, clips: list[Clip], batch_size: int, rounds: int, seconds: float
) -> list[str]:
    """The encoding table and its summary lines."""
    walls, forwards, pairs, sets = measure_encoding(encoder, clips, batch_size, rounds)
    with torch.inference_mode():
        frames = encoder(torch.from_numpy(clips[0].audio[None])).shape[1]
    frame_rate, dim = frames / seconds, encoder.output_dim
    layers = {mode: sets[mode].layer_count for mode in MODES}
    listed = lambda values: ", ".join(f"{v:.2f}" for v in values)
    rows: list[list[object]] = []
    for mode in MODES:
        row_bytes = sets[mode].features.nbytes // len(sets[mode].keys)
        frame_bytes = frame_rate * dim * 2 * layers[mode]
        rows.append(
            [
                mode,
                layers[mode],
                f"{statistics.median(walls[mode]):.2f}",
                listed(walls[mode]),
                f"{statistics.median(forwards[mode]):.2f}",
                f"{row_bytes:,} B",
                f"{frame_bytes / 1e3:,.1f} kB ({frame_bytes * 3600 / 1e9:.2f} GB/h)",
            ]
        )
    totals = statistics.median(walls["all"]) / statistics.median(walls["last"])
    audio = len(clips) * seconds
    return [
        table(
            rows,
            ["mode", "layers", "wall s", "rounds s", "forward s", "pooled row/clip", "frames/s of audio (fp16)"],
        ),
        f"{len(clips)} clips of {seconds:g} s ({audio:.0f} s of audio), batches of {batch_size}; "
        f"{frames} frames a clip ({frame_rate:.2f}/s), {dim} wide",
        f"all / last: {statistics.median(pairs):.3f} (median of {len(pairs)} pairs, from {min(pairs):.2f} to "
        f"{max(pairs):.2f}; of the median totals {totals:.3f}); "
        f"pooled rows {layers['all']}x as large; frames per layer {frame_rate * dim * 2 / 1e3:.1f} kB per second of audio",
    ]


def layered_embeddings(
    clips: int, layers: int, dim: int, classes: int, seed: int
) -> tuple[np.ndarray, list[dict[str, int]]]:
    """``[clips, layers × dim]`` pooled rows of an imagined encoder and their labels: each layer holds
    the class (a fixed direction per class and layer) at a strength that peaks in the middle layers,
    in noise, at a scale that grows a hundredfold from the bottom layer to the top."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, clips)
    centres = np.random.default_rng(1234).standard_normal((layers, classes, dim)).astype(np.float32)
    depth = np.linspace(0.0, 1.0, layers)
    strength = 0.05 + 0.25 * np.sin(np.pi * depth)
    scale = 10.0 ** (2 * depth - 1)
    blocks = [
        scale[n] * (strength[n] * centres[n, labels] + rng.standard_normal((clips, dim)).astype(np.float32))
        for n in range(layers)
    ]
    return np.concatenate(blocks, axis=1).astype(np.float32), [{"label": int(v)} for v in labels]


def head_task(classes: int, epochs: int) -> ClipTask:
    """A clip task trained as the demo clip tasks are (batches of 32, learning rate 1e-2)."""
    return ClipTask(
        name="bench_layers",
        formal_name="Benchmark layers",
        splits=splits("bench_layers_train", "bench_layers_valid", "bench_layers_test"),
        classes=classes,
        weight=1,
        epochs=epochs,
        learning_rate=1e-2,
    )


def fold_of(
    features: dict[str, np.ndarray], labels: dict[str, list[dict[str, int]]], kept: list[int]
) -> list[tuple[Split, Split, Split]]:
    """The one fold of splits holding the ``kept`` layers (numbered 0 to L - 1, as an encoder of L layers)."""
    dim = next(iter(features.values())).shape[1] // TOTAL_LAYERS
    columns = np.concatenate([np.arange(n * dim, (n + 1) * dim) for n in kept])
    sets = [
        EmbeddingSet(
            np.ascontiguousarray(features[split][:, columns]),
            [f"{split}/{i}" for i in range(len(labels[split]))],
            labels[split],
            tuple(range(len(kept))),
        )
        for split in ("train", "valid", "test")
    ]
    return [(sets[0], sets[1], sets[2])]


def time_heads(
    task: ClipTask, folds: list[tuple[Split, Split, Split]], selection: Layers | None
) -> tuple[float, int, float]:
    """Seconds to train ``selection``'s heads (``None``: the one head of ``last``), the number of
    heads trained, and the headline test accuracy."""
    heads = 0

    def train(chosen: list[tuple[Split, Split, Split]], layer: str) -> Trained:
        nonlocal heads
        heads += 1
        config = TrainConfig(task.epochs, task.batch_size, task.learning_rate, 42)
        outcome, detail = train_and_score("mlp", Fold(task, *chosen[0], config, CPU))
        return [[outcome]], [detail]

    started = time.perf_counter()
    if selection is None:
        trained = train(folds, "")
    else:
        trained, _ = train_layers(task, "mlp", folds, selection, train)
    return time.perf_counter() - started, heads, trained[0][0][0].score


def heads_report(args: argparse.Namespace) -> list[str]:
    """The heads table and its summary lines."""
    counts = [int(n) for n in args.head_layers.split(",")]
    if 1 not in counts:
        counts.insert(0, 1)
    task = head_task(args.classes, args.epochs)
    sizes = {"train": args.train, "valid": args.eval, "test": args.eval}
    data = {
        s: layered_embeddings(n, TOTAL_LAYERS, args.dim, args.classes, seed)
        for seed, (s, n) in enumerate(sizes.items())
    }
    features = {s: d[0] for s, d in data.items()}
    labels = {s: d[1] for s, d in data.items()}
    folds = {
        count: fold_of(features, labels, sorted({int(round(x)) for x in np.linspace(TOTAL_LAYERS - 1, 0, count)}))
        for count in counts
    }
    ways: list[tuple[str, Layers | None]] = [("all", Layers("all")), ("weighted", Layers("weighted"))]
    times: dict[tuple[str, int], list[float]] = {}
    heads: dict[tuple[str, int], int] = {}
    scores: dict[tuple[str, int], float] = {}
    time_heads(task, folds[1], None)  # untimed: the first head of a process pays for set-up
    for round_ in range(args.head_rounds):
        for count in counts if round_ % 2 == 0 else list(reversed(counts)):
            for name, selection in [("last", None)] if count == 1 else ways:
                seconds, heads[name, count], scores[name, count] = time_heads(task, folds[count], selection)
                times.setdefault((name, count), []).append(seconds)
    median = {key: statistics.median(values) for key, values in times.items()}
    base = median["last", 1]
    rows: list[list[object]] = [
        [
            "last (the baseline)" if name == "last" else name,
            count,
            heads[name, count],
            f"{median[name, count]:.2f}",
            f"{median[name, count] / count:.2f}",
            f"{median[name, count] / base:.2f}",
            f"{median[name, count] / count / base:.2f}",
            f"{scores[name, count]:.3f}",
        ]
        for name, count in sorted(times, key=lambda key: (key[0] != "last", key))
    ]
    steps = -(-args.train // task.batch_size) * task.epochs
    top = max(counts)
    per_layer = median["all", top] / top / base if top > 1 else 1.0
    weighted = median["weighted", top] / base if top > 1 else 1.0
    return [
        table(rows, ["heads", "layers L", "trained", "s", "s / L", "/ L=1", "(s / L) / L=1", "test accuracy"]),
        f"{args.train} / {args.eval} / {args.eval} clips, {args.dim} wide, {args.classes} classes; a head: "
        f"{task.epochs} epochs of {-(-args.train // task.batch_size)} steps ({steps} steps); "
        f"medians of {args.head_rounds} rounds",
        f"L = {top}: all takes {per_layer:.2f}x the baseline per layer (1.00: linear in L); "
        f"weighted takes {weighted:.2f}x the baseline in all",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=24, help="clips encoded in each mode")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of encoding every batch both ways")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per encoder call")
    parser.add_argument("--train", type=int, default=2000, help="training clips of the heads")
    parser.add_argument("--eval", type=int, default=500, help="validation clips, and test clips, of the heads")
    parser.add_argument("--dim", type=int, default=768, help="width of each layer's pooled embedding (heads)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=50, help="epochs of each head")
    parser.add_argument("--head-layers", default="1,4,13", help="numbers of layers L the heads train on (at most 13)")
    parser.add_argument("--head-rounds", type=int, default=3, help="timings of each L")
    parser.add_argument("--skip-encoding", action="store_true", help="time the heads only")
    args = parser.parse_args()
    if max(int(n) for n in args.head_layers.split(",")) > TOTAL_LAYERS:
        parser.error(f"--head-layers: at most {TOTAL_LAYERS} layers")

    print(f"machine: {machine()}")
    if not args.skip_encoding:
        encoder = base_encoder()
        params = sum(p.numel() for p in encoder.parameters())
        print(f"\nencoding: wav2vec 2.0 base architecture, random weights ({params / 1e6:.1f}M parameters)")
        clips = noise_clips(args.clips, args.seconds, encoder.sampling_rate, args.classes)
        print("\n".join(encoding_report(encoder, clips, args.batch_size, args.rounds, args.seconds)))
        del encoder
    print("\nheads: the linear probe of clip tasks on synthetic pooled embeddings")
    print("\n".join(heads_report(args)))


if __name__ == "__main__":
    main()
