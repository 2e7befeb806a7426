"""The engine: one task with one method, from data through cached embeddings to a (cached) score."""

from __future__ import annotations

import inspect
import shutil
import tempfile
import time
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from pytest_xares.cache import Cache, digest, load_arrays, save_arrays, write_atomic
from pytest_xares.data.fetch import ensure_task_data
from pytest_xares.data.records import content_id, record_checksums
from pytest_xares.data.shards import MissingData, find_shards
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.encode import EmbeddingSet, EncodeStats, FrameWriter, clips, encode, frame_set
from pytest_xares.encoder import LoadedEncoder
from pytest_xares.heads import Fold, Split, check_available, run_head
from pytest_xares.metrics import bootstrap_interval
from pytest_xares.probes.train import TrainConfig
from pytest_xares.progress import Progress
from pytest_xares.results import TaskResult
from pytest_xares.task import PROTOCOL_VERSION, ClipTask, KFold



def task_fingerprint(task: ClipTask) -> str:
    """A digest of every field that changes a score (functions by their source code)."""
    described = {}
    for f in fields(task):
        value = getattr(task, f.name)
        if callable(value):
            try:
                value = inspect.getsource(value)
            except (OSError, TypeError):
                value = getattr(value, "__qualname__", repr(value))
        described[f.name] = value
    return digest(described)


def prepare_data(task: ClipTask, data_dir: Path, zenodo: Zenodo | None = None) -> dict[str, list[Path]]:
    """The shards of each split pattern: a demo task's are synthesised on first use, a real task's
    are found in the data directory or fetched from its Zenodo record (``zenodo=None``: offline).

    Raises ``MissingData`` with what to do when the shards are absent and cannot be fetched.
    """
    folder = data_dir / task.data_folder
    if task.source is None:
        folder = Path(ensure_task_data(task, data_dir, zenodo).folder)
    elif _synthesis_stamp(folder) != synthesis_version(task):
        _synthesise(task, folder)
    try:
        return {pattern: find_shards(folder, pattern) for pattern in task.splits.patterns()}
    except MissingData as missing:
        raise MissingData(f"{task.formal_name}: {missing}; the task's split patterns match none of the files there") from None


SYNTHESIS_STAMP = ".synthesis"


def synthesis_version(task: ClipTask) -> str:
    """What synthesised data depends on: the task definition, the synthesiser's whole module, and
    the modules of its package that it takes names from (``demo_kinds`` writes with ``demo``'s
    helpers)."""
    module = inspect.getmodule(task.source)
    if module is None:
        return digest(task_fingerprint(task), repr(task.source))
    package = module.__name__.rpartition(".")[0]
    used = {module.__name__: module}
    if package:  # a top-level module (a user's file) counts alone: its neighbours are anyone's
        for value in vars(module).values():
            other = inspect.getmodule(value)
            if other is not None and other.__name__.rpartition(".")[0] == package:
                used[other.__name__] = other
    return digest(task_fingerprint(task), [inspect.getsource(used[name]) for name in sorted(used)])


def _synthesis_stamp(folder: Path) -> str | None:
    try:
        return (folder / SYNTHESIS_STAMP).read_text("utf-8")
    except OSError:
        return None


def _synthesise(task: ClipTask, folder: Path) -> None:
    """Write the shards into a fresh folder beside the target and swap it into place.

    Data synthesised by another version of the task or synthesiser is replaced, so an upgrade
    never evaluates stale demo data; a reader of the old folder sees it whole until the swap.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    version = synthesis_version(task)
    with filelock.FileLock(str(folder.parent / f".{folder.name}.lock")):
        if _synthesis_stamp(folder) == version:
            return  # another process made it while we waited
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        retired = folder.with_name(f".{folder.name}.old")
        try:
            assert task.source is not None
            task.source(task, staging)
            (staging / SYNTHESIS_STAMP).write_text(version, "utf-8")
            shutil.rmtree(retired, ignore_errors=True)
            if folder.exists():
                folder.rename(retired)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(retired, ignore_errors=True)


def embedding_key(loaded: LoadedEncoder, task: ClipTask, pattern: str, shards: list[Path]) -> str:
    # Entries with frames are other entries; pooled ones keep the keys they always had.
    frames = ("frames",) if task.needs_frames else ()
    return digest(
        "embeddings", PROTOCOL_VERSION, loaded.fingerprint, task.name, pattern, task.crop_seconds, *frames,
        content_id(shards, record_checksums(shards[0].parent)),
    )


def embeddings(
    cache: Cache, loaded: LoadedEncoder, task: ClipTask, pattern: str, shards: list[Path], batch_size: int,
    progress: Progress | None,
) -> tuple[Split, EncodeStats | None, list[Path]]:
    """The embeddings of one split, from the cache or encoded now (once across processes): pooled
    (an ``EmbeddingSet``) or, for a task whose head needs them, every frame (a ``FrameSet``, whose
    rows stay on disk, memory-mapped)."""
    key = embedding_key(loaded, task, pattern, shards)
    path = cache.path("embeddings", task.name, key, ".npz")
    rows_path = path.with_suffix(".f16")  # frame tasks: the frames, float16, one row after another
    made: list[EncodeStats] = []

    def create(target: Path) -> Split:
        source = clips(task, shards, loaded.module.sampling_rate)
        report = (lambda s: progress(f"{task.name} {pattern}", s)) if progress is not None else (lambda s: None)  # noqa: E731
        index: dict[str, np.ndarray] = {}
        if task.needs_frames:
            encoded: list[tuple[EmbeddingSet, EncodeStats, FrameWriter]] = []

            def write_rows(handle: Any) -> None:
                writer = FrameWriter(handle, loaded.module.hop_size_in_ms / 1000)
                encoded.append((*encode(loaded.module, loaded.device, source, batch_size, report, frames=writer), writer))

            write_atomic(rows_path, write_rows)
            ((result, stats, writer),) = encoded
            index = writer.index(order=list(range(len(result.keys))))
        else:
            result, stats = encode(loaded.module, loaded.device, source, batch_size, report)
        save_arrays(target, **result.to_arrays(), **index)  # the index last: it marks the entry complete
        made.append(stats)
        return frame_set(rows_path, index, result.keys, result.metadata) if task.needs_frames else result

    def load(target: Path) -> Split:
        try:
            arrays = load_arrays(target)
            pooled = EmbeddingSet.from_arrays(arrays)
            return frame_set(rows_path, arrays, pooled.keys, pooled.metadata) if task.needs_frames else pooled
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            # Not something this package wrote whole (renames are atomic): replace it.
            with cache.locked(target):
                target.unlink(missing_ok=True)
                return create(target)

    value, _ = cache.get_or_create(path, load, create)
    return value, (made[0] if made else None), [path, rows_path] if task.needs_frames else [path]


def folds_of(task: ClipTask, sets: dict[str, Split]) -> list[tuple[Split, Split, Split]]:
    """(train, valid, test) per fold: k-fold holds each fold out once as validation and test."""
    if isinstance(task.splits, KFold):
        result = []
        for held_out in task.splits.folds:
            rest = [sets[p] for p in task.splits.folds if p != held_out]
            result.append((EmbeddingSet.concatenate(rest), sets[held_out], sets[held_out]))  # type: ignore[arg-type]
        return result
    s = task.splits
    return [(sets[s.train], sets[s.valid], sets[s.test])]


def evaluate(
    task: ClipTask, method: str, loaded: LoadedEncoder, cache: Cache, data_dir: Path, seed: int, batch_size: int,
    progress: Progress | None = None, zenodo: Zenodo | None = None, lm: str | None = None,
) -> TaskResult:
    """The score of ``task`` with ``method``; reuses cached embeddings and scores when nothing changed.

    Absent data is fetched from ``zenodo`` (``None``: offline); ``lm`` replaces an ASR task's
    language model."""
    started = time.perf_counter()
    shards = prepare_data(task, data_dir, zenodo)
    data_seconds = time.perf_counter() - started
    keys = {p: embedding_key(loaded, task, p, s) for p, s in shards.items()}
    head_options = {"lm": lm} if lm is not None and task.kind == "asr" else {}
    result_path = cache.path("results", task.name, digest(PROTOCOL_VERSION, keys, task_fingerprint(task), method, seed, head_options), ".json")
    cached = cache.read_json(result_path)
    if cached is not None:
        return TaskResult.from_dict({**cached, "cached": True})

    check_available(task, lm, offline=zenodo is None)
    sets, encode_seconds, paths, encoded = {}, 0.0, [], {}
    for pattern, files in shards.items():
        t0 = time.perf_counter()
        sets[pattern], stats, stored = embeddings(cache, loaded, task, pattern, files, batch_size, progress)
        encode_seconds += time.perf_counter() - t0
        paths += stored
        if stats is not None:  # encoded here, not read from the cache
            encoded[pattern] = {"clips": stats.clips, "audio_s": round(stats.audio_seconds, 2), "forward_s": round(stats.forward_seconds, 3)}

    t0 = time.perf_counter()
    report = None if progress is None else (lambda epoch, valid: progress.training(f"{task.name} {method}", epoch, task.epochs, valid))
    config = TrainConfig(task.epochs, task.batch_size, task.learning_rate, seed, report=report)
    outcomes, details, samples = [], [], {"train": 0, "test": 0}
    for train, valid, test in folds_of(task, sets):
        outcome, detail = run_head(method, Fold(task, train, valid, test, config, loaded.device, lm, offline=zenodo is None))
        outcomes.append(outcome)
        details.append(detail)
        samples["train"] += len(train.keys)
        samples["test"] += len(test.keys)
    probe_seconds = time.perf_counter() - t0
    fold_scores = [o.score for o in outcomes]
    extra = {name: float(np.mean([o.extra[name] for o in outcomes])) for name in outcomes[0].extra}

    result = TaskResult(
        task=task.name,
        method=method,
        metric=task.metric,
        score=float(np.mean(fold_scores)),
        fold_scores=fold_scores,
        interval=bootstrap_interval(outcomes, seed),
        samples=samples,
        seconds={
            "data": round(data_seconds, 3),
            "encode": round(encode_seconds, 3),
            "probe": round(probe_seconds, 3),
            "total": round(time.perf_counter() - started, 3),
        },
        bytes_stored=cache.bytes_stored(paths),
        encoder_fingerprint=loaded.fingerprint,
        device=str(loaded.device),
        seed=seed,
        extra=extra,
        details={"encoded": encoded, **({"folds": details} if any(details) else {})},
    )
    cache.write_json(result_path, result.to_dict())
    return result
