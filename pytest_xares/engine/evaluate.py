"""One task with one method, from data through cached embeddings to a (cached) score."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from pytest_xares.cache.keys import embedding_key, result_key
from pytest_xares.cache.store import Cache
from pytest_xares.data.prepare import prepare_data
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.embeddings.sets import EmbeddingSet, Split
from pytest_xares.embeddings.store import embeddings, stored_layers
from pytest_xares.encoder import LoadedEncoder
from pytest_xares.encoder.layers import Layers
from pytest_xares.engine.progress import Progress
from pytest_xares.heads import (
    Fold,
    check_available,
    depends_on_seed,
    head_options,
    mixes_layers,
    stores_frames,
    train_and_score,
)
from pytest_xares.heads.metrics import Outcome, bootstrap_interval, mean_outcome
from pytest_xares.heads.train import TrainConfig
from pytest_xares.results.paired import per_clip
from pytest_xares.results.scores import TaskResult
from pytest_xares.settings import Settings
from pytest_xares.task import KFold, Task


def folds_of(task: Task, sets: dict[str, Split]) -> list[tuple[Split, Split, Split]]:
    """(train, valid, test) per fold: k-fold holds each fold out once as validation and test."""
    if isinstance(task.splits, KFold):
        result: list[tuple[Split, Split, Split]] = []
        for held_out in task.splits.folds:
            # Folds hold pooled embeddings: a kind whose head reads frames may not have folds.
            rest = [cast(EmbeddingSet, sets[p]) for p in task.splits.folds if p != held_out]
            train = EmbeddingSet.concatenate(rest)
            result.append((train, sets[held_out], sets[held_out]))
        return result
    s = task.splits
    return [(sets[s.train], sets[s.valid], sets[s.test])]


def layer_selection(task: Task, settings: Settings) -> Layers:
    """The layers scored on ``task``: ``--xares-frame-layers`` where its head reads every frame,
    else ``--xares-layers``."""
    return settings.frame_layers if stores_frames(task) else settings.layers


#: Each seed's outcome per fold, and what training chose per fold with the first seed.
Trained = tuple[list[list[Outcome]], list[dict[str, Any]]]


def train_seeds(
    task: Task,
    method: str,
    folds: list[tuple[Split, Split, Split]],
    loaded: LoadedEncoder,
    options: dict[str, Any],
    offline: bool,
    settings: Settings,
    progress: Progress | None,
    layer: str = "",
) -> Trained:
    """Each seed's outcome per fold, and what training chose per fold with the first seed
    (``layer`` says which layer the folds hold, for progress).

    ``--xares-seeds=N`` trains the heads with ``seed``, ``seed + 1``, … on the same embeddings; a
    head that draws nothing from the seed (kNN) is trained once."""
    seeds = [settings.seed + k for k in range(settings.seeds if depends_on_seed(task, method) else 1)]
    by_seed: list[list[Outcome]] = []
    details: list[dict[str, Any]] = []
    for seed in seeds:
        what = f"{task.name} {method}" + (f" {layer}" if layer else "") + (f" seed {seed}" if len(seeds) > 1 else "")
        epochs = None if progress is None else progress.epochs(what, task.epochs)
        config = TrainConfig(task.epochs, task.batch_size, task.learning_rate, seed, report=epochs)
        outcomes = []
        for train, valid, test in folds:
            fold = Fold(task, train, valid, test, config, loaded.device, options, offline)
            outcome, detail = train_and_score(method, fold)
            outcomes.append(outcome)
            if seed == settings.seed:
                details.append(detail)
        by_seed.append(outcomes)
    return by_seed, details


def fold_mean(trained: Trained, name: str) -> float | None:
    """The mean over folds of a figure training chose (``valid``: the best validation score), or
    ``None`` where a fold has none (kNN chooses nothing)."""
    values = [detail.get(name) for detail in trained[1]]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return float(np.mean(numbers)) if values and len(numbers) == len(values) else None


def train_layers(
    task: Task,
    method: str,
    folds: list[tuple[Split, Split, Split]],
    selection: Layers,
    train: Callable[[list[tuple[Split, Split, Split]], str], Trained],
) -> tuple[Trained, dict[str, Any]]:
    """Train on the layers ``selection`` asks for; the headline training, and what the results
    file says of the layers.

    ``weighted``: one head mixes every layer (``heads.layers``), and its learned weights are
    reported (averaged over folds); a head that learns nothing (kNN) scores the last layer.
    ``all`` or a list: a head per layer, and the headline is the layer of the best validation
    score (the later one of a tie; the last where the head has no validation score), so that the
    choice never looks at the test split."""
    held = folds[0][0].layers
    every = stored_layers(selection, stores_frames(task)).mode == "all"
    numbers = selection.chosen(len(held)) if every else list(held)
    count = {"count": len(held)} if every else {}  # the encoder's layers, where the entry holds them all
    if selection.mode == "weighted" and mixes_layers(task, method) and len(numbers) > 1:
        trained = train(folds, "")
        weights = [detail["layer_weights"] for detail in trained[1]]
        mean = [round(float(w), 6) for w in np.mean(np.array(weights, dtype=float), axis=0)]
        return trained, {"selection": str(selection), "layers": numbers, **count, "weights": mean}
    if selection.mode == "weighted":
        numbers = [numbers[-1]]
    per_layer = {
        n: train([(tr.layer(n), va.layer(n), te.layer(n)) for tr, va, te in folds], f"layer {n}") for n in numbers
    }
    scores = [
        float(np.mean([np.mean([o.score for o in outcomes]) for outcomes in zip(*per_layer[n][0])])) for n in numbers
    ]
    valid = [fold_mean(per_layer[n], "valid") for n in numbers]
    if all(v is not None for v in valid):
        chosen = max(reversed(numbers), key=lambda n: cast(float, valid[numbers.index(n)]))
    else:
        chosen = numbers[-1]
    info = {
        "selection": str(selection),
        "layers": numbers,
        **count,
        "scores": [round(s, 6) for s in scores],
        "valid": [None if v is None else round(v, 6) for v in valid],
        "chosen": chosen,
    }
    return per_layer[chosen], info


def evaluate(
    task: Task,
    method: str,
    loaded: LoadedEncoder,
    cache: Cache,
    settings: Settings,
    progress: Progress | None = None,
    zenodo: Zenodo | None = None,
) -> TaskResult:
    """The score of ``task`` with ``method``; reuses cached embeddings and scores when nothing changed.

    Absent data is fetched from ``zenodo`` (``None``: offline)."""
    started = time.perf_counter()
    shards = prepare_data(task, settings.data_dir, zenodo)
    data_seconds = time.perf_counter() - started
    frames = stores_frames(task)
    selection = layer_selection(task, settings)
    held = stored_layers(selection, frames).stored()
    keys = {p: embedding_key(loaded.fingerprint, task, p, s, frames, held) for p, s in shards.items()}
    options = head_options(task, method, settings)
    key = result_key(keys, task, method, settings.seed, options, settings.seeds, str(selection))
    result_path = cache.path("results", task.name, key, ".json")
    cached = cache.read_entry(result_path, lambda entry: TaskResult.from_dict({**entry, "cached": True}))
    if cached is not None:  # else absent, damaged or of another layout: computed (again)
        return cached

    offline = zenodo is None
    check_available(task, method, options, offline)
    sets: dict[str, Split] = {}
    # encode: the splits this item encoded; wait: those another item encoded, read from the cache
    # (under -n perhaps after waiting for the worker that held the split's lock).
    spent, paths, encoded = {"encode": 0.0, "wait": 0.0}, [], {}
    busy = None if progress is None else progress.busy
    for pattern, files in shards.items():
        t0 = time.perf_counter()
        report = None if progress is None else progress.encoding(f"{task.name} {pattern}")
        sets[pattern], stats, stored = embeddings(
            cache, loaded, task, pattern, files, frames, settings.batch_size, report, busy, selection
        )
        spent["wait" if stats is None else "encode"] += time.perf_counter() - t0
        paths += stored
        if stats is not None:  # encoded here, not read from the cache
            encoded[pattern] = {
                "clips": stats.clips,
                "audio_s": round(stats.audio_seconds, 2),
                "forward_s": round(stats.forward_seconds, 3),
            }

    t0 = time.perf_counter()
    folds = folds_of(task, sets)

    def train(chosen: list[tuple[Split, Split, Split]], layer: str) -> Trained:
        return train_seeds(task, method, chosen, loaded, options, offline, settings, progress, layer)

    layers: dict[str, Any] = {}
    if selection.last:
        by_seed, details = train(folds, "")
    else:
        (by_seed, details), layers = train_layers(task, method, folds, selection, train)
    samples = {"train": sum(len(f[0].keys) for f in folds), "test": sum(len(f[2].keys) for f in folds)}
    test_keys = [test.keys for _, _, test in folds]
    probe_seconds = time.perf_counter() - t0
    # Per fold, the mean over seeds: its score, its resamples (the interval) and its extra figures.
    combined = [mean_outcome([outcomes[k] for outcomes in by_seed]) for k in range(len(folds))]
    fold_scores = [o.score for o in combined]
    extra = {name: float(np.mean([o.extra[name] for o in combined])) for name in combined[0].extra}
    seed_scores = [float(np.mean([o.score for o in outcomes])) for outcomes in by_seed]
    if len(by_seed) == 1:  # one seed, or a head that does not depend on it: the same for every seed
        seed_scores *= settings.seeds

    result = TaskResult(
        task=task.name,
        method=method,
        metric=task.metric,
        score=float(np.mean(fold_scores)),
        fold_scores=fold_scores,
        interval=bootstrap_interval(combined, settings.seed),
        samples=samples,
        seconds={
            "data": round(data_seconds, 3),
            "encode": round(spent["encode"], 3),
            "wait": round(spent["wait"], 3),
            "probe": round(probe_seconds, 3),
            "total": round(time.perf_counter() - started, 3),
        },
        bytes_stored=cache.bytes_stored(paths),
        encoder_fingerprint=loaded.fingerprint,
        device=str(loaded.device),
        seed=settings.seed,
        extra=extra,
        per_clip=per_clip(by_seed[0], test_keys, by_seed[1:]),
        details={"encoded": encoded, **({"folds": details} if any(details) else {})},
        seed_scores=seed_scores if settings.seeds > 1 else [],
        layers=layers,
    )
    cache.write_entry(result_path, result.to_dict())
    return result
