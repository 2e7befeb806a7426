"""What a run would cost before it runs (``--xares-estimate``): per task the bytes to download, the
disk its embeddings will take in the cache, and the time to encode it, from the task's data and a
timing of the encoder on this process's device. Nothing is downloaded, encoded or cached.

- **Download**: the files of the task's Zenodo record that are not in place, by the sizes of the
  record's metadata (kept beside the data, else asked of the server; offline without it: unknown).
- **Clips and hours**: read from the shards' audio headers (``soundfile.info``), the whole split
  when it is small, else its first samples, scaled to the split by bytes. Crops count as the
  protocol cuts them. A task whose data is not in place has none of these: it says so.
- **Cache**: a float32 vector per clip (or crop) of ``output_dim``, and for the frame-level and
  speech tasks every frame in float16 too; with ``--xares-layers`` (``--xares-frame-layers``)
  other than ``last``, as many of each as the layers the entry holds.
- **Time**: the encoder's forward pass and decoding (with resampling), each timed here and
  multiplied by the task's hours of audio: the forward pass on a batch shaped like the task's
  clips (its median length, the batch size equal lengths allow), decoding on a few of its clips,
  spread over the decoder threads (as many as torch's, see ``embeddings.encode``). On a GPU the
  decoders run beside the forward pass, so the slower of the two counts; on the CPU they take the
  same cores, so the two add up.
"""

from __future__ import annotations

import io
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import soundfile
import torch
from tabulate import tabulate

from pytest_xares.data.audio import decode
from pytest_xares.data.fetch import candidate_folders, is_complete
from pytest_xares.data.prepare import prepare_data
from pytest_xares.data.records import Record, RecordError, read_record
from pytest_xares.data.shards import RawSample, find_shards, iter_samples
from pytest_xares.data.transfer import duration, human_bytes
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.encoder import LoadedEncoder
from pytest_xares.errors import MissingData
from pytest_xares.heads import stores_frames
from pytest_xares.task import Task

#: The junit property an estimate item records its ``Estimate`` in.
PROPERTY = "xares_estimate"
#: How much of a split is read to measure its clips: the rest is scaled from these by bytes.
SAMPLE_CLIPS, SAMPLE_BYTES = 2000, 64_000_000
#: Clips decoded to time decoding and resampling, at most, and the most audio seconds among them.
DECODE_CLIPS, DECODE_SECONDS = 16, 60.0
#: The longest input the forward pass is timed on: longer clips cost in proportion (encoders chunk them).
LONGEST_TIMED = 60.0
#: What a tar adds per sample: a 512-byte header per member (audio and json) and their padding.
TAR_OVERHEAD = 3 * 512
#: What an embeddings entry adds per split: three arrays' npy and zip headers, about 256 bytes each.
ENTRY_OVERHEAD = 3 * 256


@dataclass(frozen=True)
class Estimate:
    """One task's estimate; a ``None`` is unknown, and ``note`` says why or how it was measured."""

    task: str
    record: int | None
    download_bytes: int | None
    clips: int | None = None
    audio_seconds: float | None = None
    cache_bytes: int | None = None
    forward_seconds: float | None = None
    decode_seconds: float | None = None  # spread over the decoder threads
    overlapped: bool = False  # the forward pass runs on an accelerator, beside the decoders
    note: str = ""

    @property
    def encode_seconds(self) -> float | None:
        """The encode stage: the forward pass and the decoders, side by side on a GPU, else sharing the cores."""
        if self.forward_seconds is None or self.decode_seconds is None:
            return None
        if self.overlapped:
            return max(self.forward_seconds, self.decode_seconds)
        return self.forward_seconds + self.decode_seconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Estimate:
        return cls(**raw)


@dataclass
class SplitSample:
    """What reading (part of) one split's shards found."""

    clips: int = 0  # after cropping: what the encoder is given
    audio_seconds: float = 0.0  # encoded audio, crops included
    frames: float = 0.0  # output frames, at the encoder's hop
    bytes_read: int = 0  # of samples read (audio, json, tar headers)
    samples: int = 0
    lengths: Counter[int] = field(default_factory=Counter)  # encoded lengths in samples: how batches fill
    batches: int = 0  # encoder calls: only clips of one length, of one split, share one
    key_chars: int = 0  # the longest clip key: keys are stored as fixed-width unicode
    metadata_chars: float = 0.0  # every clip's json, stored beside the vectors
    complete: bool = True  # the whole split was read
    decode_cost: float = 0.0  # seconds spent decoding the clips decoded to time it,
    decoded_seconds: float = 0.0  # and their audio seconds
    decoded: int = 0

    def add(self, other: SplitSample, factor: float, batch_size: int) -> None:
        """Add ``other``'s clips scaled by ``factor`` (a split's bytes over those read), the batches
        they make, and its decode timing."""
        self.batches += sum(math.ceil(round(count * factor) / batch_size) for count in other.lengths.values())
        self.clips += round(other.clips * factor)
        self.audio_seconds += other.audio_seconds * factor
        self.frames += other.frames * factor
        self.key_chars = max(self.key_chars, other.key_chars)
        self.metadata_chars += other.metadata_chars * factor
        self.lengths.update({n: round(c * factor) for n, c in other.lengths.items()})
        self.decode_cost += other.decode_cost
        self.decoded_seconds += other.decoded_seconds


def estimate_task(
    task: Task,
    loaded: LoadedEncoder,
    data_dir: Path,
    zenodo: Zenodo | None,
    batch_size: int,
    timings: dict[tuple[int, int], float] | None = None,
    layers: tuple[int, int] = (1, 1),
) -> Estimate:
    """The estimate of ``task`` for ``loaded`` on its device. ``timings`` keeps forward passes
    already timed (by batch and length), so tasks of the same shape are timed once. ``layers``:
    how many of the encoder's layers the task's entries hold, pooled and frame by frame."""
    timings = {} if timings is None else timings
    download, note = _download(task, data_dir, zenodo)
    shards = _shards_in_place(task, data_dir)
    if shards is None:
        return Estimate(
            task.name, task.record, download, note=note or "data not in place: clips, disk and time unknown"
        )
    rate = cast(int, loaded.module.sampling_rate)
    hop = cast(float, loaded.module.hop_size_in_ms) / 1000
    dim = cast(int, loaded.module.output_dim)
    total, scaled = SplitSample(), []
    for pattern, files in shards.items():
        sample = _read_split(task, files, rate, hop)
        factor = 1.0 if sample.complete else sum(f.stat().st_size for f in files) / max(sample.bytes_read, 1)
        if not sample.complete:
            scaled.append(f"{pattern}: {sample.samples} samples read, scaled ×{factor:.1f} by bytes")
        total.add(sample, factor, batch_size)
    # Each clip's vector (float32), key and json (numpy unicode: 4 bytes a character), and the frames (float16).
    index = total.clips * 4 * total.key_chars + 4 * round(total.metadata_chars) + ENTRY_OVERHEAD * len(shards)
    pooled, framed = layers
    frames = round(total.frames) * dim * 2 * framed if stores_frames(task) else 0
    cache = total.clips * dim * 4 * pooled + index + frames
    held = framed if stores_frames(task) else pooled
    layer_note = f"{held} layers of the encoder" if held > 1 else ""
    forward_rate = _forward_rate(loaded, total, timings)
    decoders = max(1, torch.get_num_threads())  # as many as embeddings.encode.clips runs
    decode_rate = total.decode_cost / total.decoded_seconds / decoders if total.decoded_seconds else 0.0
    return Estimate(
        task.name,
        task.record,
        download,
        clips=total.clips,
        audio_seconds=round(total.audio_seconds, 1),
        cache_bytes=cache,
        forward_seconds=round(forward_rate * total.audio_seconds, 2),
        decode_seconds=round(decode_rate * total.audio_seconds, 2),
        overlapped=loaded.device.type != "cpu",
        note="; ".join(filter(None, [note, layer_note, *scaled])) or "every clip's header read",
    )


def _download(task: Task, data_dir: Path, zenodo: Zenodo | None) -> tuple[int | None, str]:
    """(bytes of the record not in place, a note); demo and private tasks download nothing."""
    if task.source is not None:
        return 0, "synthesised, not downloaded"
    if task.record is None:
        return 0, "private: no download" if task.private else "no Zenodo record"
    record, folder = None, candidate_folders(task, data_dir)[0]
    for candidate in candidate_folders(task, data_dir):
        kept = read_record(candidate)
        if kept is not None and kept.id in (None, task.record):
            record, folder = kept, candidate
            break
    if record is None and any(is_complete(task, f) for f in candidate_folders(task, data_dir)):
        return 0, ""  # an X-ARES env/ folder: in place without metadata
    if record is None:
        if zenodo is None:
            return None, f"offline, and no kept metadata of record {task.record}: download size unknown"
        try:
            record = Record.parse(zenodo.metadata(task.record))
        except (MissingData, RecordError) as error:
            return None, f"record {task.record}: {error}"
    return sum(f.size for f in record.missing(folder)), ""


def _shards_in_place(task: Task, data_dir: Path) -> dict[str, list[Path]] | None:
    """Each split's shards when the data is in place (a demo task's synthesised now), else ``None``."""
    if task.source is not None:
        return prepare_data(task, data_dir, None)
    for folder in candidate_folders(task, data_dir):
        if is_complete(task, folder):
            try:
                return {pattern: find_shards(folder, pattern) for pattern in task.splits.patterns()}
            except MissingData:
                return None
    return None


def _read_split(task: Task, shards: list[Path], rate: int, hop: float) -> SplitSample:
    """The split's clips as far as the sampling budget reads, and the timing of a few decoded."""
    sample = SplitSample()
    samples = iter_samples(shards)
    for raw in samples:
        if sample.samples >= SAMPLE_CLIPS or sample.bytes_read >= SAMPLE_BYTES:
            sample.complete = False
            break
        seconds = _seconds_of(raw, rate)
        sample.samples += 1
        metadata = len(json.dumps(raw.metadata))
        sample.bytes_read += len(raw.audio) + metadata + TAR_OVERHEAD
        # The key is shard/key, and #n for a crop (see embeddings.encode.clips).
        sample.key_chars = max(sample.key_chars, len(raw.shard) + len(raw.key) + (4 if task.crop_seconds else 1))
        for length in _encoded_lengths(task, seconds, rate):
            sample.metadata_chars += metadata + 2
            sample.clips += 1
            sample.audio_seconds += length / rate
            sample.frames += length / rate / hop
            sample.lengths[length] += 1
        if sample.decoded < DECODE_CLIPS and sample.decoded_seconds < DECODE_SECONDS:
            started = time.perf_counter()
            decode(raw.audio, rate)
            sample.decode_cost += time.perf_counter() - started
            sample.decoded += 1
            sample.decoded_seconds += seconds
    getattr(samples, "close", lambda: None)()
    return sample


def _seconds_of(raw: RawSample, rate: int) -> float:
    """A clip's duration from its audio header, or (a format without a frame count) by decoding it."""
    try:
        info = soundfile.info(io.BytesIO(raw.audio))
        if info.frames > 0 and info.samplerate > 0:
            return float(info.frames / info.samplerate)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        pass
    return len(decode(raw.audio, rate)) / rate


def _encoded_lengths(task: Task, seconds: float, rate: int) -> Iterator[int]:
    """The lengths (samples at the encoder's rate) of what the encoder gets from a clip: the
    clip, or its crops as ``data.audio.crop`` cuts them (a short clip padded to one crop)."""
    length = round(seconds * rate)
    if task.crop_seconds is None:
        yield max(length, 1)
        return
    crop = int(round(task.crop_seconds * rate))
    yield from [crop] * max(1, length // crop)


def _forward_rate(loaded: LoadedEncoder, total: SplitSample, timings: dict[tuple[int, int], float]) -> float:
    """Forward seconds per second of audio, timed on a batch like the task's: of its median clip
    length (at most ``LONGEST_TIMED``), of as many clips as its batches hold on average."""
    lengths = total.lengths
    if not lengths or not total.batches:
        return 0.0
    rate = cast(int, loaded.module.sampling_rate)
    batch = max(1, round(sum(lengths.values()) / total.batches))
    median = int(statistics.median_low(np.repeat(list(lengths), list(lengths.values()))))
    length = min(median, int(LONGEST_TIMED * rate))
    if (batch, length) not in timings:
        timings[(batch, length)] = time_forward(loaded, batch, length)
    return timings[(batch, length)] / (batch * length / rate)


def time_forward(loaded: LoadedEncoder, batch: int, length: int, repeats: int = 3, least: float = 0.25) -> float:
    """Seconds of one forward pass over ``[batch, length]`` samples of noise on the encoder's
    device, after one pass to warm up (kernels chosen, memory allocated): the median of at least
    ``repeats`` passes, and of as many as fill ``least`` seconds (at most 50), so that a light
    encoder is not judged by one moment of the machine's load. The median, not the fastest: a
    run meets the load as it is."""
    device = loaded.device
    audio = torch.randn(batch, length, generator=torch.Generator().manual_seed(0)).mul_(0.1).to(device)
    seconds: list[float] = []
    with torch.inference_mode():
        loaded.module(audio)
        while len(seconds) < repeats or (sum(seconds) < least and len(seconds) < 50):
            _synchronise(device)
            started = time.perf_counter()
            loaded.module(audio)
            _synchronise(device)
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def table(estimates: list[Estimate], workers: int = 1) -> str:
    """The estimates as the terminal shows them, with a total (downloads of a shared record once)."""

    def maybe(value: float | None, show: Any) -> str:
        return "?" if value is None else str(show(value))

    rows = [
        [
            e.task,
            maybe(e.download_bytes, human_bytes),
            maybe(e.clips, lambda n: f"{n:,}"),
            maybe(e.audio_seconds, lambda s: f"{s / 3600:.2f}"),
            maybe(e.cache_bytes, human_bytes),
            maybe(e.encode_seconds, duration),
            e.note,
        ]
        for e in sorted(estimates, key=lambda e: e.task)
    ]
    downloads = {e.record if e.record is not None else e.task: e.download_bytes for e in estimates}
    known = [e for e in estimates if e.encode_seconds is not None]
    encode = sum(cast(float, e.encode_seconds) for e in known)
    unknown = len(estimates) - len(known)
    rows.append(
        [
            f"total ({len(estimates)} tasks)",
            human_bytes(sum(b for b in downloads.values() if b)) + (" + ?" if None in downloads.values() else ""),
            f"{sum(e.clips or 0 for e in estimates):,}",
            f"{sum(e.audio_seconds or 0 for e in estimates) / 3600:.2f}",
            human_bytes(sum(e.cache_bytes or 0 for e in estimates)),
            duration(encode)
            + (f" on one worker, about {duration(encode / workers)} on {workers}" if workers > 1 else ""),
            f"{unknown} tasks without data in place not counted" if unknown else "",
        ]
    )
    headers = ["task", "download", "clips", "audio h", "cache", "encode", "measured"]
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
