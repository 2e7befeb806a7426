"""X-ARES 0.1.3's own probe training, kNN and metrics beside pytest-xares's, on the same embeddings.

    python benchmarks/parity.py --xares-python /path/to/xares-venv/bin/python [--runs 5] [--seeds 5]

X-ARES's code needs torchaudio, so it runs in its own virtual environment::

    python3 -m venv xares-venv
    xares-venv/bin/pip install torch==2.11.0 torchaudio==2.11.0 && xares-venv/bin/pip install xares==0.1.3

The demo suite is encoded once by pytest-xares (``--encoder``, the log-mel encoder by default)
into a working folder's cache. Its embeddings are then exported in X-ARES's encoded-shard layout
and ``benchmarks/parity_xares.py`` trains X-ARES's probe on them ``--runs`` times (its training
order is drawn from the process id and the clock, so runs differ) and runs its kNN. Printed per
task: X-ARES's MLP runs and pytest-xares's MLP over ``--seeds`` seeds (means, spreads and
ranges), X-ARES's kNN beside ``--xares-knn=xares-0.1.3`` (which must be equal) and the per-sample
default, and, on X-ARES's own test predictions of its first run, its metric (segment F1, mAP)
beside pytest-xares's. Last, the measured effect of the frame-target convention: the demo events
task with X-ARES's targets (a frame is marked when its start lies in the event), which pytest-xares
follows, and with the alternative that marks every frame an event overlaps; pytest-xares's probe
in X-ARES's batch order; and on embeddings made with X-ARES's two encoding defects (padded batches
pooled, only a clip's first crop kept).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import webdataset as wds

import pytest_xares
from pytest_xares.api import _runtime
from pytest_xares.data.prepare import prepare_data
from pytest_xares.embeddings.sets import EmbeddingSet, FrameSet
from pytest_xares.embeddings.store import embeddings
from pytest_xares.engine.policy import run_item
from pytest_xares.example_encoders.mel import MelEncoder
from pytest_xares.heads import metrics as ours
from pytest_xares.heads import stores_frames
from pytest_xares.task import FrameTask, KFold, Task
from pytest_xares.task.registry import load_tasks

TASKS = ("demo_count", "demo_pitch", "demo_texture", "demo_tags", "demo_events")
HERE = Path(__file__).resolve().parent


class Mel40Encoder(MelEncoder):
    """The log-mel encoder at a 40 ms hop (dasheng's), on which the demo events' onsets (multiples of
    10 ms) fall between frame starts, so the two frame-target conventions differ."""

    hop_size_in_ms = 40


def kind_of(task: Task) -> str:
    """The kind as ``parity_xares.py`` names it."""
    return {"clip": "classes", "multilabel": "multilabel", "frame": "frame"}[task.kind]


def x_ares_metric(task: Task, hop_seconds: float) -> tuple[str, dict[str, Any]]:
    if isinstance(task, FrameTask):
        args = {"hop_size_in_ms": hop_seconds * 1000, "segment_length_in_s": task.segment_seconds}
        return f"segmentf1_{task.average}", args
    return ("mAP", {}) if task.kind == "multilabel" else ("accuracy", {})


def export(split: EmbeddingSet | FrameSet, task: Task, path: Path) -> None:
    """One split as X-ARES's encoded shard: ``npy`` [frames, dim] float32 and the target in ``json``."""
    with wds.TarWriter(str(path), encoder=False) as sink:
        for i, metadata in enumerate(split.metadata):
            if isinstance(split, FrameSet):
                start, length = int(split.starts[i]), int(split.lengths[i])
                rows = np.asarray(split.frames[start : start + length], dtype=np.float32)
                assert isinstance(task, FrameTask)
                target: Any = task.frame_targets(metadata, length, split.hop_seconds).T.tolist()
            else:
                rows = split.features[i : i + 1]
                value = task.target(metadata)
                target = np.flatnonzero(value).tolist() if task.kind == "multilabel" else int(value)
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(rows, dtype=np.float32))
            sink.write(
                {"__key__": f"s{i:06d}", "npy": buffer.getvalue(), "json": json.dumps({"target": target}).encode()}
            )


def spread(values: Sequence[float]) -> str:
    mean = statistics.mean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {std:.4f} ({min(values):.4f}-{max(values):.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xares-python", required=True, help="python of a venv holding xares==0.1.3")
    parser.add_argument("--encoder", default="pytest_xares.example_encoders.mel")
    parser.add_argument("--runs", type=int, default=5, help="X-ARES probe runs per task")
    parser.add_argument("--seeds", type=int, default=5, help="pytest-xares seeds per task")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--workdir", type=Path, default=None, help="data and cache (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-parity-"))
    places = {"data_dir": workdir / "data", "cache_dir": workdir / "cache"}
    tasks = {t.name: t for t in load_tasks("demo") if t.name in args.tasks}

    t0 = time.perf_counter()
    project = [
        pytest_xares.evaluate(args.encoder, tasks=list(tasks), methods=("mlp",), seed=s, progress=False, **places)
        for s in range(args.seeds)
    ]
    mlp = {name: [next(r.score for r in run.results if r.task == name) for run in project] for name in tasks}
    knn: dict[str, dict[str, float]] = {}
    for mode in ("xares-0.1.3", "per-sample"):
        runtime, _ = _runtime(args.encoder, False, knn=mode, **places)
        for name, task in tasks.items():
            if "knn" in task.methods:
                knn.setdefault(name, {})[mode] = run_item(runtime, task, "knn").score
    project_seconds = time.perf_counter() - t0

    runtime, _ = _runtime(args.encoder, False, **places)
    loaded = runtime.encoder()
    exported = workdir / "x-ares"
    exported.mkdir(exist_ok=True)
    job: dict[str, Any] = {"runs": args.runs, "tasks": []}
    for name, task in tasks.items():
        shards = prepare_data(task, places["data_dir"], None)
        frames = stores_frames(task)
        splits: dict[str, str] = {}
        hop = 0.0
        for pattern, files in shards.items():
            split, _, _ = embeddings(runtime.cache, loaded, task, pattern, files, frames, 16)
            hop = split.hop_seconds if isinstance(split, FrameSet) else hop
            path = exported / f"{name}-{pattern.replace('*', '').removesuffix('.tar')}.tar"
            export(split, task, path)
            splits[pattern] = str(path)
        if isinstance(task.splits, KFold):
            layout: dict[str, Any] = {"folds": list(task.splits.folds), **splits}
        else:
            s = task.splits
            layout = {"train": splits[s.train], "valid": splits[s.valid], "test": splits[s.test]}
        metric, metric_args = x_ares_metric(task, hop)
        job["tasks"].append(
            {
                "name": name,
                "kind": kind_of(task),
                "classes": task.num_classes,
                "dim": int(loaded.module.output_dim),
                "splits": layout,
                "metric": metric,
                "metric_args": metric_args,
                "learning_rate": task.learning_rate,
                "epochs": task.epochs,
                "batch_size": task.batch_size,
                "hop_seconds": hop,
                "predictions": str(exported / f"{name}-predictions.npz") if task.kind != "clip" else None,
            }
        )
    (workdir / "job.json").write_text(json.dumps(job, indent=1))
    t0 = time.perf_counter()
    with open(workdir / "x-ares.log", "w") as log:
        subprocess.run(
            [args.xares_python, str(HERE / "parity_xares.py"), str(workdir / "job.json"), str(workdir / "out.json")],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    xares_seconds = time.perf_counter() - t0
    out = json.loads((workdir / "out.json").read_text())

    print(f"{args.encoder} on the demo suite; X-ARES 0.1.3 (torch {out['torch']}): {args.runs} runs, log in {workdir}")
    print(f"pytest-xares: {args.seeds} seeds, {project_seconds:.0f} s; X-ARES: {xares_seconds:.0f} s\n")
    print(f"{'task':13s} {'X-ARES MLP, mean ± std (range)':36s} {'pytest-xares MLP':36s}")
    for name in tasks:
        print(f"{name:13s} {spread(out['tasks'][name]['mlp']):36s} {spread(mlp[name]):36s}")
    print(f"\n{'task':13s} {'X-ARES kNN':>11s} {'xares-0.1.3':>12s} {'per-sample':>11s}  equal")
    for name, modes in knn.items():
        theirs = out["tasks"][name]["knn"]
        same = "yes" if abs(theirs - modes["xares-0.1.3"]) < 1e-9 else "NO"
        print(f"{name:13s} {theirs:11.4f} {modes['xares-0.1.3']:12.4f} {modes['per-sample']:11.4f}  {same}")
    print("\nOn X-ARES's test predictions (first run):")
    for entry in job["tasks"]:
        if entry["predictions"] is None:
            continue
        saved = np.load(entry["predictions"])
        task = tasks[entry["name"]]
        if entry["kind"] == "multilabel":
            theirs = sklearn_map(saved["logits"], saved["targets"])
            mine = ours.mean_average_precision(saved["logits"], saved["targets"])
            print(f"  {entry['name']}: mAP, X-ARES's (classes without positives count 0) {theirs:.4f}, ours {mine:.4f}")
        else:
            assert isinstance(task, FrameTask)
            probabilities = split_clips(1 / (1 + np.exp(-saved["logits"])), saved["lengths"])
            targets = split_clips(saved["targets"], saved["lengths"])
            kernel = ours.segment_frames(task.segment_seconds, entry["hop_seconds"])
            mine = ours.segment_f1_outcome(probabilities, targets, kernel, task.average).score
            theirs = segment_f1_dropping_tail(probabilities, targets, kernel, task.average)
            print(
                f"  {entry['name']}: segment F1 ({task.average}, {kernel}-frame segments), X-ARES's (trailing partial "
                f"segment dropped) {theirs:.4f}, ours {mine:.4f}"
            )
    x_ares_order(args.encoder, list(tasks.values()), workdir, args.seeds, out)
    encoding_defects(runtime, tasks, places["data_dir"], args.seeds)
    if "demo_events" in tasks:
        target_convention(tasks["demo_events"], workdir, args.seeds)


def split_clips(rows: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(rows, np.cumsum(lengths)[:-1])


def sklearn_map(scores: np.ndarray, targets: np.ndarray) -> float:
    """X-ARES's mAP (ignite's ``AveragePrecision``): scikit-learn's macro AP over every class."""
    import warnings

    from sklearn.metrics import average_precision_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class without positives: scikit-learn warns and scores it 0
        return float(average_precision_score(targets, scores, average="macro"))


def segment_f1_dropping_tail(
    probabilities: list[np.ndarray], targets: list[np.ndarray], kernel: int, average: str
) -> float:
    """X-ARES's segment F1: each clip max-pooled with stride = kernel (a trailing partial segment
    dropped), predictions rounded at 0.5, scikit-learn's F1 over all segments."""
    from sklearn.metrics import f1_score

    def pool(rows: np.ndarray) -> np.ndarray:
        whole = len(rows) // kernel * kernel
        return rows[:whole].reshape(-1, kernel, rows.shape[1]).max(axis=1)

    predicted = np.concatenate([pool((p > 0.5).astype(np.int64)) for p in probabilities])
    actual = np.concatenate([pool(t.astype(np.int64)) for t in targets])
    return float(f1_score(actual, predicted, average=average, zero_division=0))


def buffered_shuffle(items: list[int], bufsize: int, initial: int, rng: random.Random) -> list[int]:
    """webdataset's ``shuffle`` stage: a buffer filled two items per step, a random one taken out
    once it holds ``initial``; what comes out early comes from early in the input."""
    out: list[int] = []
    buffer: list[int] = []
    source = iter(items)

    def take() -> None:
        k = rng.randint(0, len(buffer) - 1)
        out.append(buffer[k])
        buffer[k] = buffer[-1]
        buffer.pop()

    for item in source:
        buffer.append(item)
        if len(buffer) < bufsize:
            buffer.extend(itertools.islice(source, 1))
        if len(buffer) >= min(initial, bufsize):
            take()
    while buffer:
        take()
    return out


def x_ares_order(encoder: str, tasks: list[Task], workdir: Path, seeds: int, out: dict[str, Any]) -> None:
    """pytest-xares's heads trained on batches drawn in X-ARES's order: the training split in shard
    order through webdataset's buffered shuffles (2000 samples, starting at 500, then 512 starting at
    100), instead of a permutation of the whole split."""
    import pytest_xares.heads.train as train

    def x_ares_batches(samples: Any, order: torch.Generator, batch_size: int) -> list[torch.Tensor]:
        rng = random.Random(int(torch.randint(2**31, (1,), generator=order)))
        drawn = buffered_shuffle(buffered_shuffle(list(range(len(samples))), 2000, 500, rng), 512, 100, rng)
        return list(torch.tensor(drawn, dtype=torch.int64).split(batch_size))

    original = train._batches
    train._batches = x_ares_batches  # type: ignore[assignment]
    try:
        runs = [
            pytest_xares.evaluate(
                encoder,
                tasks=tasks,
                methods=("mlp",),
                seed=s,
                progress=False,
                data_dir=workdir / "data",
                cache_dir=workdir / "cache-x-ares-order",
            )
            for s in range(seeds)
        ]
    finally:
        train._batches = original  # type: ignore[assignment]
    print(f"\npytest-xares's MLP on batches in X-ARES's order (buffered shuffles of the shard order), {seeds} seeds:")
    for task in tasks:
        scores = [next(r.score for r in run.results if r.task == task.name) for run in runs]
        print(f"  {task.name:13s} {spread(scores):36s} X-ARES {spread(out['tasks'][task.name]['mlp'])}")


def encoding_defects(runtime: Any, tasks: dict[str, Task], data_dir: Path, seeds: int) -> None:
    """pytest-xares's probe on embeddings made as X-ARES 0.1.3 made them, beside its own: clips
    zero-padded to their encoding batch's longest with the padding pooled (demo_texture, whose clips
    differ in length), and only the first crop of each clip kept (demo_count, 1 s crops)."""
    from pytest_xares.embeddings.encode import clips
    from pytest_xares.heads import Fold, train_and_score
    from pytest_xares.heads.train import TrainConfig

    loaded = runtime.encoder()

    def sets_of(task: Task) -> dict[str, EmbeddingSet]:
        shards = prepare_data(task, data_dir, None)
        return {
            p: cast(EmbeddingSet, embeddings(runtime.cache, loaded, task, p, f, False, 16)[0])
            for p, f in shards.items()
        }

    def padded(task: Task) -> dict[str, EmbeddingSet]:
        made = {}
        for pattern, files in prepare_data(task, data_dir, None).items():
            every = list(clips(task, files, int(loaded.module.sampling_rate)))
            rows = []
            for start in range(0, len(every), 16):
                batch = every[start : start + 16]
                longest = max(len(c.audio) for c in batch)
                audio = torch.zeros(len(batch), longest)
                for i, c in enumerate(batch):
                    audio[i, : len(c.audio)] = torch.from_numpy(c.audio)
                with torch.inference_mode():
                    rows.append(loaded.module(audio).mean(dim=1).numpy())
            made[pattern] = EmbeddingSet(np.concatenate(rows), [c.key for c in every], [c.metadata for c in every])
        return made

    def first_crops(sets: dict[str, EmbeddingSet]) -> dict[str, EmbeddingSet]:
        kept = {}
        for pattern, split in sets.items():
            rows = [i for i, key in enumerate(split.keys) if key.endswith("#0")]
            kept[pattern] = EmbeddingSet(
                split.features[rows], [split.keys[i] for i in rows], [split.metadata[i] for i in rows]
            )
        return kept

    def scores(task: Task, sets: dict[str, EmbeddingSet]) -> list[float]:
        s = task.splits
        assert not isinstance(s, KFold)
        out = []
        for seed in range(seeds):
            config = TrainConfig(task.epochs, task.batch_size, task.learning_rate, seed)
            fold = Fold(task, sets[s.train], sets[s.valid], sets[s.test], config, loaded.device)
            out.append(train_and_score("mlp", fold)[0].score)
        return out

    print(f"\npytest-xares's MLP on embeddings made X-ARES's way, {seeds} seeds:")
    if "demo_texture" in tasks:
        task = tasks["demo_texture"]
        print(f"  demo_texture, each clip alone       {spread(scores(task, sets_of(task)))}")
        print(f"  demo_texture, padded batches pooled {spread(scores(task, padded(task)))}")
    if "demo_count" in tasks:
        task = tasks["demo_count"]
        every = sets_of(task)
        print(f"  demo_count, every crop              {spread(scores(task, every))}")
        print(f"  demo_count, the first crop only     {spread(scores(task, first_crops(every)))}")


def target_convention(task: FrameTask, workdir: Path, seeds: int) -> None:
    """The events task scored with X-ARES's frame targets (pytest-xares's: a frame is marked when
    its start lies in the event) and with the alternative that marks every frame an event
    overlaps, on a 40 ms hop (at the log-mel encoder's 10 ms the demo's onsets fall on frame starts,
    and the two agree)."""
    import math

    def overlap_spans(self: FrameTask, metadata: Any, hop_seconds: float) -> np.ndarray:
        rows = []
        for onset, offset, classes in self.target(metadata):
            first = math.floor(onset / hop_seconds + 1e-9)
            end = max(math.ceil(offset / hop_seconds - 1e-9), first + 1)
            rows += [(first, end, c) for c in classes]
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    scores: dict[str, list[float]] = {}
    original = FrameTask.spans
    for convention, spans in (("frame start inside (X-ARES)", original), ("any overlap", overlap_spans)):
        FrameTask.spans = spans  # type: ignore[method-assign]
        try:
            scores[convention] = [
                pytest_xares.evaluate(
                    Mel40Encoder(),
                    tasks=[task],
                    methods=("mlp",),
                    seed=s,
                    progress=False,
                    data_dir=workdir / "data",
                    cache_dir=workdir / f"cache-{convention.split()[0]}",
                )
                .results[0]
                .score
                for s in range(seeds)
            ]
        finally:
            FrameTask.spans = original  # type: ignore[method-assign]
    print(f"\n{task.name} segment F1 by frame-target convention, log-mel at a 40 ms hop, {seeds} seeds:")
    for convention, values in scores.items():
        print(f"  {convention:28s} {spread(values)}")


if __name__ == "__main__":
    main()
