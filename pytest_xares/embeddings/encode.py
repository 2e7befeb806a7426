"""Turning a split's shards into embeddings with the frozen encoder.

Clips are read, decoded, resampled and cropped in background threads while the encoder runs, and
batched only with clips of exactly the same length, so no clip is ever padded into a neighbour's
shape and every embedding is the one the clip gets alone. soundfile and torch release the GIL while
they work, so several clips decode at once where the encoder leaves cores free (a GPU encoder, a
light one); clips are still handed over in shard order, so batches, and embeddings, do not depend
on the number of decoders.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import torch

from pytest_xares.data.audio import AudioError, crop, decode
from pytest_xares.data.shards import RawSample, iter_samples
from pytest_xares.embeddings.sets import EmbeddingSet
from pytest_xares.encoder import describe_error
from pytest_xares.encoder.layers import LayerError, run_layers
from pytest_xares.errors import DataError, EncoderError, LabelError
from pytest_xares.task import Task

T = TypeVar("T")
U = TypeVar("U")


class FrameSink(Protocol):
    """Where every frame's embedding goes as it comes (``embeddings.store.FrameWriter``)."""

    def write(self, index: int, frames: np.ndarray) -> None: ...


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


def clips(task: Task, shards: list[Path], sampling_rate: int, decoders: int | None = None) -> Iterator[Clip]:
    """Decode, resample and crop every sample, ``decoders`` at a time (default: this process's share
    of the cores, as ``engine.runtime.share_cores`` set torch's thread count), in shard order; a bad clip
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
    frames: FrameSink | None = None,
    busy: Callable[[str], AbstractContextManager[object]] = lambda what: contextlib.nullcontext(),
    what: str = "the split",
    layers: Callable[[int], list[int]] | None = None,
) -> tuple[EmbeddingSet, EncodeStats]:
    """Mean-pooled embeddings of every clip from ``source`` (``what``: a split, for messages), in
    source order; every frame's embedding goes to ``frames`` too, where given. Each encoder call
    runs inside ``busy(description)``, which can say that a long one is still running.

    With ``layers`` the encoder's hidden states are encoded (``encoder.layers.run_layers``) and
    ``layers(count)`` says which of its ``count`` layers to keep: each row (pooled, and each
    frame) is then those layers' vectors one after another; else its output alone.

    Every output is checked as it comes: ``[clips, frames, output_dim]`` for every layer, floating
    point, finite, the same layers in every batch, or an ``EncoderError`` names the clip."""
    stats = EncodeStats()
    kept: list[tuple[int, list[int]]] = []  # (the encoder's layer count, the layers kept), from the first batch
    rows: dict[int, np.ndarray] = {}
    seen: dict[int, tuple[str, Any]] = {}  # index → (key, metadata)
    buckets: dict[int, list[Clip]] = defaultdict(list)
    pending = 0

    def run(batch: list[Clip]) -> None:
        nonlocal pending
        pending -= len(batch)
        started = time.perf_counter()
        with busy(f"encoding {what}: a batch of {len(batch)} clips from {batch[0].key}"):
            pooled, output = _forward(encoder, device, batch, frames is not None, layers, kept)
        for number, (clip, row) in enumerate(zip(batch, pooled)):
            # A copy, not a view: views would keep each batch's output alive, and those small
            # blocks, allocated among the forward pass's large temporary ones, pin the allocator's
            # heap (RSS grew by 10 KB per clip instead of the row's 0.3 KB).
            rows[clip.index] = row.copy()
            if frames is not None:
                assert output is not None  # _forward keeps the frames when there is a sink
                frames.write(clip.index, output[number])
        stats.forward_seconds += time.perf_counter() - started
        stats.batches += 1
        stats.clips += len(batch)
        stats.audio_seconds += sum(len(c.audio) for c in batch) / cast(int, encoder.sampling_rate)
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
        raise DataError(f"{what} holds no samples: its shards have no audio with json metadata")
    features = np.stack([rows[i] for i in order]).astype(np.float32, copy=False)
    numbers = tuple(kept[0][1]) if layers is not None else ()
    return EmbeddingSet(features, [seen[i][0] for i in order], [seen[i][1] for i in order], numbers), stats


def _forward(
    encoder: torch.nn.Module,
    device: torch.device,
    batch: list[Clip],
    keep_frames: bool = False,
    layers: Callable[[int], list[int]] | None = None,
    kept: list[tuple[int, list[int]]] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The mean over frames of each clip's embeddings, and (``keep_frames``) the frames themselves;
    with ``layers``, of the layers it keeps, one after another (``kept`` holds what the first
    batch found, which every later one must match)."""
    audio = torch.from_numpy(np.stack([c.audio for c in batch]))
    kept = [] if kept is None else kept
    try:
        with torch.inference_mode():
            outputs = run_layers(encoder, audio.to(device), all_layers=layers is not None)
    except LayerError as error:
        raise EncoderError(f"on {batch[0].key}: {error}") from None
    except torch.cuda.OutOfMemoryError:
        if len(batch) == 1:
            seconds = audio.shape[1] / cast(int, encoder.sampling_rate)
            raise EncoderError(
                f"out of memory encoding {batch[0].key} ({seconds:.1f} s) alone; "
                f"chunk long inputs inside the encoder or use a device with more memory"
            ) from None
        torch.cuda.empty_cache()
        half = len(batch) // 2
        parts = [
            _forward(encoder, device, batch[:half], keep_frames, layers, kept),
            _forward(encoder, device, batch[half:], keep_frames, layers, kept),
        ]
        frames = np.concatenate([p[1] for p in parts]) if keep_frames else None
        return np.concatenate([p[0] for p in parts]), frames
    except (Exception, SystemExit) as error:  # SystemExit: an encoder's sys.exit() must not end the run
        raise EncoderError(
            f"the encoder raised on {batch[0].key} (batch of {len(batch)}): {describe_error(error)}"
        ) from None
    if layers is None:
        _check_output(encoder, outputs[0], batch, list(audio.shape))
    else:
        outputs = _kept_layers(encoder, outputs, batch, list(audio.shape), layers, kept)
    # Each layer pooled on its own: the last one's mean is the very float32 of a run without layers.
    pooled = torch.cat([output.float().mean(dim=1) for output in outputs], dim=1)
    frames = torch.cat(outputs, dim=2).to(torch.float16).cpu().numpy() if keep_frames else None
    return pooled.cpu().numpy(), frames


def _kept_layers(
    encoder: torch.nn.Module,
    outputs: list[torch.Tensor],
    batch: list[Clip],
    shape: list[int],
    layers: Callable[[int], list[int]],
    kept: list[tuple[int, list[int]]],
) -> list[torch.Tensor]:
    """The kept layers, in order, each checked."""
    if not kept:
        try:
            kept.append((len(outputs), layers(len(outputs))))
        except LayerError as error:
            raise EncoderError(str(error)) from None
    count, numbers = kept[0]
    if len(outputs) != count:
        raise EncoderError(
            f"the encoder returned {len(outputs)} hidden states for {batch[0].key}, but {count} for the first "
            f"batch: every call must return the same layers"
        )
    for number in numbers:
        _check_output(encoder, outputs[number], batch, shape, f"layer {number} of ")
    frames = {tuple(outputs[n].shape[:2]) for n in numbers}
    if len(frames) > 1:
        raise EncoderError(
            f"the encoder's layers have different numbers of frames for {batch[0].key} "
            f"({sorted(shape[1] for shape in frames)}): every layer must have the output's frames"
        )
    return [outputs[n] for n in numbers]


def _check_output(encoder: torch.nn.Module, output: Any, batch: list[Clip], shape: list[int], layer: str = "") -> None:
    """Raise ``EncoderError`` naming the clip unless ``output`` is ``[clips, frames, output_dim]``,
    floating point and finite: what the interface checks promised holds for every batch.
    ``layer`` ("layer 3 of ") says which hidden state it is."""
    dim = encoder.output_dim
    where = f"{layer}a batch of shape {shape} ({batch[0].key}{', …' if len(batch) > 1 else ''})"
    if not isinstance(output, torch.Tensor) or output.ndim != 3 or output.shape[0] != len(batch) or output.shape[1] < 1:
        got = list(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise EncoderError(f"the encoder returned {got} for {where}; expected [{len(batch)}, frames, {dim}]")
    if output.shape[2] != dim:
        raise EncoderError(
            f"the encoder returned {list(output.shape)} for {where}, but declares output_dim={dim}: "
            f"every batch must have the declared size"
        )
    if not output.is_floating_point():
        raise EncoderError(f"the encoder returned {output.dtype} for {where}; return floating-point embeddings")
    finite = torch.isfinite(output).flatten(1).all(dim=1).tolist()
    if not all(finite):
        bad = [c.key for c, ok in zip(batch, finite) if not ok]
        raise EncoderError(f"the encoder returned NaN or infinite values for {', '.join(bad[:3])}")


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
