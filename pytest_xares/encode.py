"""Turning a split's shards into pooled embeddings with the frozen encoder.

Clips are read, decoded, resampled and cropped in background threads while the encoder runs, and
batched only with clips of exactly the same length, so no clip is ever padded into a neighbour's
shape and every embedding is the one the clip gets alone. soundfile and soxr release the GIL while
they work, so several clips decode at once where the encoder leaves cores free (a GPU encoder, a
light one); clips are still handed over in shard order, so batches, and embeddings, do not depend
on the number of decoders.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import torch

from pytest_xares.data.audio import AudioError, crop, decode
from pytest_xares.data.shards import DataError, RawSample, iter_samples
from pytest_xares.encoder import EncoderError, describe_error
from pytest_xares.task import ClipTask, LabelError

T = TypeVar("T")
U = TypeVar("U")


@dataclass
class EmbeddingSet:
    """Pooled embeddings of one split, in shard order, one row per sample (a clip or a crop)."""

    features: np.ndarray  # [samples, output_dim] float32
    keys: list[str]  # "<shard>/<key>" plus "#<crop>" for crops
    metadata: list[Any]  # each sample's json

    def targets(self, task: ClipTask) -> np.ndarray:
        return task.targets(self.metadata)

    @classmethod
    def concatenate(cls, sets: list[EmbeddingSet]) -> EmbeddingSet:
        return cls(
            np.concatenate([s.features for s in sets]),
            [k for s in sets for k in s.keys],
            [m for s in sets for m in s.metadata],
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "features": self.features,
            "keys": np.array(self.keys, dtype=str),
            "metadata": np.array(json.dumps(self.metadata)),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> EmbeddingSet:
        return cls(arrays["features"], arrays["keys"].tolist(), json.loads(str(arrays["metadata"])))


@dataclass
class FrameSet:
    """Frame embeddings of one split, for frame-level and speech tasks: every sample's frames one
    after another in ``frames`` (float16, memory-mapped when read from the cache), sample ``i``
    at rows ``starts[i]`` to ``starts[i] + lengths[i]``."""

    frames: np.ndarray  # [total frames, output_dim] float16
    starts: np.ndarray  # [samples] int64
    lengths: np.ndarray  # [samples] int64
    keys: list[str]
    metadata: list[Any]
    hop_seconds: float  # the encoder's declared hop

    def __len__(self) -> int:
        return len(self.keys)

    def sample(self, index: int) -> np.ndarray:
        """The frames of one sample, ``[frames, output_dim]`` float16 (a view: no copy)."""
        start = int(self.starts[index])
        return self.frames[start : start + int(self.lengths[index])]


class FrameWriter:
    """Writes frame embeddings as they come, float16, to a file of raw rows; what is written is
    never held in memory. ``frame_set`` reads the file back memory-mapped, in sample order."""

    def __init__(self, handle: BinaryIO, hop_seconds: float) -> None:
        self.handle = handle
        self.hop_seconds = hop_seconds
        self.rows = 0
        self.dim: int | None = None
        self.placed: dict[int, tuple[int, int]] = {}  # sample index → (first row, rows)

    def write(self, index: int, frames: np.ndarray) -> None:
        self.dim = frames.shape[1]
        self.handle.write(np.ascontiguousarray(frames, dtype=np.float16).tobytes())
        self.placed[index] = (self.rows, len(frames))
        self.rows += len(frames)

    def index(self, order: list[int]) -> dict[str, np.ndarray]:
        """Where each sample's rows are, in sample order, for ``frame_set``."""
        return {
            "starts": np.array([self.placed[i][0] for i in order], dtype=np.int64),
            "lengths": np.array([self.placed[i][1] for i in order], dtype=np.int64),
            "shape": np.array([self.rows, self.dim or 0], dtype=np.int64),
            "hop_seconds": np.array(self.hop_seconds),
        }


def frame_set(rows: Path, index: dict[str, np.ndarray], keys: list[str], metadata: list[Any]) -> FrameSet:
    """The frames written by a ``FrameWriter`` to ``rows``, memory-mapped read-only."""
    total, dim = (int(n) for n in index["shape"])
    expected = total * dim * 2
    if rows.stat().st_size != expected:
        raise ValueError(f"{rows} holds {rows.stat().st_size} bytes, not the {expected} its index says")
    frames = np.memmap(rows, dtype=np.float16, mode="r", shape=(total, dim)) if total else np.zeros((0, dim), np.float16)
    return FrameSet(frames, index["starts"], index["lengths"], keys, metadata, float(index["hop_seconds"]))


@dataclass
class Clip:
    index: int
    key: str
    audio: np.ndarray
    metadata: Any


@dataclass
class EncodeStats:
    clips: int = 0
    audio_seconds: float = 0.0
    forward_seconds: float = 0.0
    batches: int = 0


def clips(task: ClipTask, shards: list[Path], sampling_rate: int, decoders: int | None = None) -> Iterator[Clip]:
    """Decode, resample and crop every sample, ``decoders`` at a time (default: this process's share
    of the cores, as ``runtime.share_cores`` set torch's thread count), in shard order; a bad clip
    or label names its shard and key."""
    decoders = max(1, torch.get_num_threads()) if decoders is None else decoders
    crop_length = None if task.crop_seconds is None else int(round(task.crop_seconds * sampling_rate))

    def decoded(raw: RawSample) -> np.ndarray:
        try:
            task.target(raw.metadata)
            return decode(raw.audio, sampling_rate)
        except (LabelError, AudioError) as error:
            raise DataError(f"task {task.name}, {raw.where}: {error}") from None

    index = 0
    for raw, audio in ordered_map(decoded, iter_samples(shards), decoders):
        pieces = crop(audio, crop_length)
        for number, piece in enumerate(pieces):
            key = f"{raw.shard}/{raw.key}" + (f"#{number}" if crop_length else "")
            yield Clip(index, key, piece, raw.metadata)
            index += 1


def ordered_map(function: Callable[[T], U], items: Iterable[T], workers: int) -> Iterator[tuple[T, U]]:
    """``(item, function(item))`` in the order of ``items``, computed by ``workers`` threads at most
    ``2 * workers`` items ahead (never the whole input at once); the first error re-raises here."""
    if workers <= 1:
        yield from ((item, function(item)) for item in items)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="xares-decode")
    pending: deque[tuple[T, Future[U]]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(function, item)))
            if len(pending) >= 2 * workers:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def encode(
    encoder: torch.nn.Module,
    device: torch.device,
    source: Iterable[Clip],
    batch_size: int,
    progress: Callable[[EncodeStats], None] = lambda stats: None,
    frames: FrameWriter | None = None,
) -> tuple[EmbeddingSet, EncodeStats]:
    """Mean-pooled embeddings of every clip from ``source``, in source order; every frame's
    embedding goes to ``frames`` too, where given."""
    stats = EncodeStats()
    rows: dict[int, np.ndarray] = {}
    seen: dict[int, tuple[str, Any]] = {}  # index → (key, metadata)
    buckets: dict[int, list[Clip]] = defaultdict(list)
    pending = 0

    def run(batch: list[Clip]) -> None:
        nonlocal pending
        pending -= len(batch)
        started = time.perf_counter()
        pooled, output = _forward(encoder, device, batch, keep_frames=frames is not None)
        for number, (clip, row) in enumerate(zip(batch, pooled)):
            # A copy, not a view: views would keep each batch's output alive, and those small
            # blocks, allocated among the forward pass's large temporary ones, pin the allocator's
            # heap (RSS grew by 10 KB per clip instead of the row's 0.3 KB).
            rows[clip.index] = row.copy()
            if frames is not None:
                frames.write(clip.index, output[number])
        stats.forward_seconds += time.perf_counter() - started
        stats.batches += 1
        stats.clips += len(batch)
        stats.audio_seconds += sum(len(c.audio) for c in batch) / encoder.sampling_rate
        progress(stats)

    for clip in prefetch(source, size=4 * batch_size):
        seen[clip.index] = (clip.key, clip.metadata)
        bucket = buckets[len(clip.audio)]
        bucket.append(clip)
        pending += 1
        if len(bucket) == batch_size:
            run(buckets.pop(len(clip.audio)))
        elif pending > 4 * batch_size:
            # Lengths rarely repeat in this data: encode the fullest bucket rather than hold audio.
            run(buckets.pop(max(buckets, key=lambda n: len(buckets[n]))))
    for length in sorted(buckets):
        run(buckets[length])

    order = sorted(rows)
    if not order:
        raise DataError("the split holds no samples")
    features = np.stack([rows[i] for i in order]).astype(np.float32, copy=False)
    return EmbeddingSet(features, [seen[i][0] for i in order], [seen[i][1] for i in order]), stats


def _forward(encoder: torch.nn.Module, device: torch.device, batch: list[Clip], keep_frames: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean over frames of each clip's embeddings, and (``keep_frames``) the frames themselves."""
    audio = torch.from_numpy(np.stack([c.audio for c in batch]))
    try:
        with torch.inference_mode():
            output = encoder(audio.to(device))
    except torch.cuda.OutOfMemoryError:
        if len(batch) == 1:
            raise EncoderError(
                f"out of memory encoding {batch[0].key} ({audio.shape[1] / encoder.sampling_rate:.1f} s) alone; "
                f"chunk long inputs inside the encoder or use a device with more memory"
            ) from None
        torch.cuda.empty_cache()
        half = len(batch) // 2
        parts = [_forward(encoder, device, batch[:half], keep_frames), _forward(encoder, device, batch[half:], keep_frames)]
        frames = np.concatenate([p[1] for p in parts]) if keep_frames else None
        return np.concatenate([p[0] for p in parts]), frames
    except Exception as error:
        raise EncoderError(f"the encoder raised on {batch[0].key} (batch of {len(batch)}): {describe_error(error)}") from None
    if not isinstance(output, torch.Tensor) or output.ndim != 3 or output.shape[0] != len(batch) or output.shape[1] < 1:
        shape = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise EncoderError(f"the encoder returned {shape} for a batch of shape {list(audio.shape)} ({batch[0].key})")
    pooled = output.float().mean(dim=1)
    if not torch.isfinite(pooled).all():
        bad = [c.key for c, ok in zip(batch, torch.isfinite(pooled).all(dim=1).tolist()) if not ok]
        raise EncoderError(f"the encoder returned NaN or infinite values for {', '.join(bad[:3])}")
    return pooled.cpu().numpy(), (output.to(torch.float16).cpu().numpy() if keep_frames else None)


def prefetch(source: Iterable[T], size: int) -> Iterator[T]:
    """Iterate ``source`` in a background thread, ``size`` items ahead; its errors re-raise here."""
    items: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if stop.is_set():
                    return
                items.put((True, item))
            items.put((False, None))
        except BaseException as error:  # handed to the consumer, which raises it
            items.put((False, error))
        finally:
            getattr(iterator, "close", lambda: None)()  # a generator's cleanup (its decoders) runs now

    worker = threading.Thread(target=produce, name="xares-decode", daemon=True)
    worker.start()
    try:
        while True:
            ok, item = items.get()
            if not ok:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
