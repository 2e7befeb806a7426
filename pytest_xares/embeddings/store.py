"""The embeddings entry of one split in the cache, and its format.

A pooled entry is one ``.npz``: ``features`` [samples, output_dim] float32, ``keys`` and the
samples' json ``metadata``. A task whose head needs every frame (``heads.<kind>.FRAMES``) also has
a ``.f16`` file beside it, the frames written float16 as the encoder produces them, one row after
another, and the ``.npz`` holds where each sample's rows are (``starts``, ``lengths``), the
file's ``shape`` and its SHA-256 (``sha256``, computed as the rows are written); it is written
last, so it marks the entry complete. The frames are read back memory-mapped and never held in
memory, once the file's digest is checked: a damaged frame file is encoded again, never scored.

An entry of several layers (``--xares-layers``) holds each row's layers one after another
(``features`` [samples, layers × output_dim], the frames likewise) and ``layers``, the encoder's
layer numbers they are; its key says which layers it holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np

from pytest_xares.cache.keys import embedding_key
from pytest_xares.cache.store import Cache, load_arrays, save_arrays
from pytest_xares.embeddings.encode import EncodeStats, clips, encode
from pytest_xares.embeddings.sets import EmbeddingSet, FrameSet, Split
from pytest_xares.encoder import LoadedEncoder
from pytest_xares.encoder.layers import LAST, Layers
from pytest_xares.files import write_atomic
from pytest_xares.task import Task


class FrameWriter:
    """Writes frame embeddings as they come, float16, to a file of raw rows; what is written is
    never held in memory. ``frame_set`` reads the file back memory-mapped, in sample order."""

    def __init__(self, handle: BinaryIO, hop_seconds: float) -> None:
        self.handle = handle
        self.hop_seconds = hop_seconds
        self.rows = 0
        self.dim: int | None = None
        self.placed: dict[int, tuple[int, int]] = {}  # sample index → (first row, rows)
        self.digest = hashlib.sha256()

    def write(self, index: int, frames: np.ndarray) -> None:
        self.dim = frames.shape[1]
        data = np.ascontiguousarray(frames, dtype=np.float16).tobytes()
        self.handle.write(data)
        self.digest.update(data)
        self.placed[index] = (self.rows, len(frames))
        self.rows += len(frames)

    def index(self, order: list[int]) -> dict[str, np.ndarray]:
        """Where each sample's rows are, in sample order, for ``frame_set``."""
        return {
            "starts": np.array([self.placed[i][0] for i in order], dtype=np.int64),
            "lengths": np.array([self.placed[i][1] for i in order], dtype=np.int64),
            "shape": np.array([self.rows, self.dim or 0], dtype=np.int64),
            "hop_seconds": np.array(self.hop_seconds),
            "sha256": np.array(self.digest.hexdigest()),
        }


def frame_set(rows: Path, index: dict[str, np.ndarray], keys: list[str], metadata: list[Any]) -> FrameSet:
    """The frames written by a ``FrameWriter`` to ``rows``, memory-mapped read-only; raises
    ``ValueError`` when the file is not what its index says (its size, its SHA-256)."""
    total, dim = (int(n) for n in index["shape"])
    expected = total * dim * 2
    if rows.stat().st_size != expected:
        raise ValueError(f"{rows} holds {rows.stat().st_size} bytes, not the {expected} its index says")
    if file_sha256(rows) != str(index["sha256"]):
        raise ValueError(f"{rows} does not have the SHA-256 its index says: the frames were damaged")
    frames = (
        np.memmap(rows, dtype=np.float16, mode="r", shape=(total, dim)) if total else np.zeros((0, dim), np.float16)
    )
    layers = tuple(int(n) for n in index["layers"]) if "layers" in index else ()
    return FrameSet(frames, index["starts"], index["lengths"], keys, metadata, float(index["hop_seconds"]), layers)


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pooled_arrays(pooled: EmbeddingSet) -> dict[str, np.ndarray]:
    return {
        "features": pooled.features,
        "keys": np.array(pooled.keys, dtype=str),
        "metadata": np.array(json.dumps(pooled.metadata)),
        **({"layers": np.array(pooled.layers, dtype=np.int64)} if pooled.layers else {}),
    }


def pooled_set(arrays: dict[str, np.ndarray]) -> EmbeddingSet:
    layers = tuple(int(n) for n in arrays["layers"]) if "layers" in arrays else ()
    return EmbeddingSet(arrays["features"], arrays["keys"].tolist(), json.loads(str(arrays["metadata"])), layers)


def stored_layers(selection: Layers, frames: bool) -> Layers:
    """The layers an entry holds for ``selection``: pooled, every layer (a few kilobytes a clip,
    and one entry then serves every selection); frames, only the selected ones (each layer's
    frames take as much disk as the output's)."""
    return selection if selection.last or (frames and selection.mode == "list") else Layers("all")


def embeddings(
    cache: Cache,
    loaded: LoadedEncoder,
    task: Task,
    pattern: str,
    shards: list[Path],
    frames: bool,
    batch_size: int,
    progress: Callable[[EncodeStats], None] | None = None,
    busy: Callable[[str], AbstractContextManager[object]] | None = None,
    layers: Layers = LAST,
) -> tuple[Split, EncodeStats | None, list[Path]]:
    """The embeddings of one split, from the cache or encoded now (once across processes): pooled
    (an ``EmbeddingSet``) or, with ``frames``, every frame (a ``FrameSet``, whose rows stay on disk,
    memory-mapped); of the encoder's output, or of the layers ``stored_layers(layers, frames)``
    names. Returns them, what encoding them cost (``None`` when cached) and the entry's files.
    ``progress`` hears the encoding's stats, ``busy`` wraps each encoder call (see ``encode``)."""
    held = stored_layers(layers, frames)
    key = embedding_key(loaded.fingerprint, task, pattern, shards, frames, held.stored())
    path = cache.path("embeddings", task.name, key, ".npz")
    rows_path = path.with_suffix(".f16")
    made: list[EncodeStats] = []
    options: dict[str, Any] = {
        "progress": progress or (lambda stats: None),
        "busy": busy or (lambda what: contextlib.nullcontext()),
        "what": f"task {task.name}, split {pattern} ({len(shards)} shards in {shards[0].parent})",
        "layers": None if held.last else held.chosen,
    }

    def create(target: Path) -> Split:
        # The encoder's attributes are what the gating checks made sure of before any task runs.
        source = clips(task, shards, cast(int, loaded.module.sampling_rate))
        index: dict[str, np.ndarray] = {}
        if frames:
            encoded: list[tuple[EmbeddingSet, EncodeStats, FrameWriter]] = []

            def write_rows(handle: BinaryIO) -> None:
                writer = FrameWriter(handle, cast(float, loaded.module.hop_size_in_ms) / 1000)
                encoded.append(
                    (*encode(loaded.module, loaded.device, source, batch_size, frames=writer, **options), writer)
                )

            write_atomic(rows_path, write_rows)
            ((result, stats, writer),) = encoded
            index = writer.index(order=list(range(len(result.keys))))
        else:
            result, stats = encode(loaded.module, loaded.device, source, batch_size, **options)
        arrays = pooled_arrays(result)
        save_arrays(target, **arrays, **index)  # the index last: it marks the entry complete
        made.append(stats)
        return frame_set(rows_path, {**arrays, **index}, result.keys, result.metadata) if frames else result

    def load(target: Path) -> Split:
        try:
            arrays = load_arrays(target)
            pooled = pooled_set(arrays)
            return frame_set(rows_path, arrays, pooled.keys, pooled.metadata) if frames else pooled
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            # Not something this package wrote whole (renames are atomic): replace it.
            with cache.locked(target):
                target.unlink(missing_ok=True)
                return create(target)

    value, _ = cache.get_or_create(path, load, create)
    return value, (made[0] if made else None), [path, rows_path] if frames else [path]
