"""How far the engine is from the encoder's own speed, per stage, for a light and a heavy encoder.

    python benchmarks/encode.py [--clips 48] [--seconds 4] [--rounds 3] [--encoders mel,transformer,conv]
                                [--layers 8] [--dim 768] [--conv-width 64] [--batch-size 16] [--device cpu]

Generates a clip task (44.1 kHz stereo FLAC, so decoding and resampling cost something), then for
each encoder prints, measured in this one run:

- decode + resample: reading every clip of every split, alone, on one thread;
- pure forward: the encoder's forward passes over the same audio already in memory, in the
  batches the engine forms (the limit: what encoding would cost if audio were free);
- encode stage: the engine encoding every split from the shards into a fresh cache (wall time),
  and its ratio to the pure forward time, the two alternating for a few rounds;
- probes: training the linear probe, and the kNN;
- bytes stored: the cached embeddings, beside what every output frame in float32 would take;
- peak memory: the process's peak resident memory during each stage;
- warm re-run: both methods again with everything cached (fingerprinting the encoder included).

The heavy encoders are randomly initialised (seeded) and of a realistic size, defined here: a
conv front end plus transformer (wav2vec2-shaped), and a convolutional network on log-mel
frames (CNN14-shaped, as in PANNs). The last line per encoder divides the encode stage by what
bounds it: the slower of the pure forward pass and decoding spread over the worker's threads
(torch's thread count, which is also the number of decoders), so 1.0 means the engine adds nothing.
That spread assumes the decoders share out perfectly; the line after it uses decoding as measured
on those decoder threads (each round, nothing kept), the bound a shared machine actually allows.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import PeakMemory, generated_task, machine, megabytes, stage, table

from pytest_xares.data.prepare import prepare_data
from pytest_xares.embeddings.encode import clips
from pytest_xares.engine.progress import Progress
from pytest_xares.engine.runtime import Runtime
from pytest_xares.example_encoders.mel import MelEncoder
from pytest_xares.settings import Settings
from pytest_xares.task import ClipTask


class BenchTransformerEncoder(torch.nn.Module):
    """A wav2vec2-shaped encoder with random, seeded weights: a strided conv front end (20 ms hop)
    and a pre-norm transformer; inputs are encoded in chunks of at most 10 s."""

    sampling_rate = 16_000
    hop_size_in_ms = 20

    def __init__(self, layers: int = 8, dim: int = 768, heads: int = 12, channels: int = 256) -> None:
        super().__init__()
        self.output_dim = dim
        self.chunk = 10 * self.sampling_rate
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            shape = [(1, channels, 10, 5)] + [(channels, channels, 3, 2)] * 4 + [(channels, channels, 2, 2)] * 2
            convs: list[torch.nn.Module] = []
            for inputs, outputs, kernel, stride in shape:
                convs += [torch.nn.Conv1d(inputs, outputs, kernel, stride), torch.nn.GELU()]
            self.frontend = torch.nn.Sequential(*convs)
            self.receptive = 400  # samples the front end needs for one frame
            self.project = torch.nn.Linear(channels, dim)
            layer = torch.nn.TransformerEncoderLayer(
                dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True
            )
            self.transformer = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        batch = audio.reshape(1, -1) if audio.ndim == 1 else audio
        pieces = []
        for piece in batch.float().split(self.chunk, dim=1):
            if piece.shape[1] < self.receptive:
                piece = torch.nn.functional.pad(piece, (0, self.receptive - piece.shape[1]))
            frames = self.frontend(piece[:, None, :]).transpose(1, 2)
            pieces.append(self.transformer(self.project(frames)))
        return torch.cat(pieces, dim=1)


class BenchConvEncoder(torch.nn.Module):
    """A CNN14-shaped encoder with random, seeded weights: 64 log-mel bands every 10 ms (the log-mel
    encoder's), six blocks of two 3x3 convolutions with batch norm, the first five pooled 2x2; the
    frequency axis is averaged, so each output frame is ``width * 32`` channels every 320 ms."""

    sampling_rate = 16_000
    hop_size_in_ms = 320

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.mel = MelEncoder()
        channels = [1] + [width * 2**k for k in range(6)]  # 64 ... 2048
        self.output_dim = channels[-1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            blocks: list[torch.nn.Module] = []
            for number, (inputs, outputs) in enumerate(itertools.pairwise(channels)):
                for a, b in ((inputs, outputs), (outputs, outputs)):
                    blocks += [
                        torch.nn.Conv2d(a, b, 3, padding=1, bias=False),
                        torch.nn.BatchNorm2d(b),
                        torch.nn.ReLU(),
                    ]
                if number < 5:
                    blocks.append(torch.nn.AvgPool2d(2))
            self.blocks = torch.nn.Sequential(*blocks)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        mel = self.mel(audio)  # [batch, frames, 64]
        frames = mel.shape[1] // 32 * 32 or 32  # whole output frames; a short clip padded to one
        mel = torch.nn.functional.pad(mel, (0, 0, 0, max(0, frames - mel.shape[1])))[:, :frames]
        return self.blocks(mel[:, None]).mean(dim=3).transpose(1, 2)  # [batch, frames / 32, channels]


def decode_all(task: ClipTask, shards: dict[str, list[Path]], rate: int) -> list[np.ndarray]:
    """Every clip of every split, decoded and resampled as the engine does, kept in memory."""
    return [clip.audio for files in shards.values() for clip in clips(task, files, rate, decoders=1)]


def pure_forward(
    encoder: torch.nn.Module, device: torch.device, audio: list[np.ndarray], batch_size: int
) -> tuple[float, int]:
    """Seconds spent in the encoder's forward over ``audio`` in batches of equal length (each moved
    to ``device`` before its call is timed), and the number of output frames."""
    by_length: dict[int, list[np.ndarray]] = {}
    for clip in audio:
        by_length.setdefault(len(clip), []).append(clip)
    seconds, frames = 0.0, 0
    with torch.inference_mode():
        encoder(
            torch.from_numpy(audio[0][None]).to(device)
        )  # first-call set-up (FFT plans, allocator) is not the limit
        for same in by_length.values():
            for start in range(0, len(same), batch_size):
                batch = torch.from_numpy(np.stack(same[start : start + batch_size])).to(device)
                _synchronize(device)
                started = time.perf_counter()
                output = encoder(batch)
                _synchronize(device)
                seconds += time.perf_counter() - started
                frames += output.shape[0] * output.shape[1]
    return seconds, frames


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    name: str,
    encoder: torch.nn.Module,
    task: ClipTask,
    data_dir: Path,
    cache_dir: Path,
    batch_size: int,
    device: str,
    rounds: int,
    memory: PeakMemory,
) -> tuple[list[list[object]], dict[str, float]]:
    """The stage rows of one encoder and the figures the summary needs.

    The encode stage and the pure forward pass alternate for ``rounds`` rounds (which goes first
    alternates too) and the ratio is the median of the rounds' ratios, so a change in the machine's
    load during the run moves both sides of a ratio alike.
    """
    settings = Settings.with_defaults(
        data_dir=data_dir, cache_dir=cache_dir, batch_size=batch_size, device=device, offline=True
    )
    runtime = Runtime(settings, Progress.for_python(False), encoder=encoder)
    with stage(memory) as built:
        loaded = runtime.encoder()
    shards = prepare_data(task, data_dir)
    rate = loaded.module.sampling_rate
    with stage(memory) as decoding:
        audio = decode_all(task, shards, rate)
    clip_count, audio_seconds = len(audio), sum(len(a) for a in audio) / rate
    del audio

    forwards, encodes, encode_peaks, forward_peaks, inside, decodes = [], [], [], [], [], []
    for round_ in range(rounds):
        for step in ("decode", "forward", "encode") if round_ % 2 == 0 else ("encode", "forward", "decode"):
            if step == "decode":  # as the engine decodes: its decoder threads, nothing kept
                started = time.perf_counter()
                for files in shards.values():
                    for _clip in clips(task, files, rate):
                        pass
                decodes.append(time.perf_counter() - started)
            elif step == "forward":
                audio = decode_all(task, shards, rate)
                with stage(memory) as forward_stage:
                    seconds, frames = pure_forward(loaded.module, loaded.device, audio, batch_size)
                del audio
                forwards.append(seconds)
                forward_peaks.append(forward_stage.peak_mb)
            else:
                shutil.rmtree(cache_dir, ignore_errors=True)
                start_mb = memory.current_mb()
                with stage(memory) as cold:
                    mlp = Runtime(settings, Progress.for_python(False), encoder=encoder).evaluate(task, "mlp")
                encodes.append(mlp.seconds["encode"])
                encode_peaks.append(cold.peak_mb)
                inside.append(sum(e["forward_s"] for e in mlp.details["encoded"].values()))
    knn = runtime.evaluate(task, "knn")
    with stage(memory) as warm:
        again = Runtime(settings, Progress.for_python(False), encoder=encoder)
        warm_results = [again.evaluate(task, m) for m in ("mlp", "knn")]
    assert all(r.cached for r in warm_results), [(r.method, r.cached, r.seconds) for r in warm_results]

    ratio = statistics.median(e / f for e, f in zip(encodes, forwards))
    forward_seconds, encode_wall = statistics.median(forwards), statistics.median(encodes)
    frame_bytes = frames * loaded.module.output_dim * 4
    listed = lambda values: ", ".join(f"{v:.2f}" for v in values)
    rows = [
        [name, "fingerprint (build given)", f"{built.seconds:.2f}", f"{built.peak_mb:.0f}", ""],
        [
            name,
            "decode + resample (1 thread)",
            f"{decoding.seconds:.2f}",
            f"{decoding.peak_mb:.0f}",
            f"{clip_count} clips, {audio_seconds:.0f} s of audio, {audio_seconds / decoding.seconds:.0f}x real time",
        ],
        [
            name,
            "pure forward (audio in memory)",
            f"{forward_seconds:.2f}",
            f"{max(forward_peaks):.0f}",
            f"rounds: {listed(forwards)}; {audio_seconds / forward_seconds:.0f}x real time",
        ],
        [
            name,
            "encode stage (wall)",
            f"{encode_wall:.2f}",
            f"{max(encode_peaks):.0f}",
            f"rounds: {listed(encodes)}; {ratio:.2f}x pure forward (median of rounds); "
            f"forward inside it {statistics.median(inside):.2f} s; RSS {start_mb:.0f} MB before",
        ],
        [name, "probe: linear (mlp)", f"{mlp.seconds['probe']:.2f}", "", f"score {mlp.score:.3f}"],
        [name, "probe: kNN", f"{knn.seconds['probe']:.2f}", "", f"score {knn.score:.3f}"],
        [
            name,
            "bytes stored",
            megabytes(mlp.bytes_stored),
            "",
            f"every frame in float32: {megabytes(frame_bytes)} (ratio {mlp.bytes_stored / frame_bytes:.4f})",
        ],
        [name, "warm re-run (both methods)", f"{warm.seconds:.2f}", f"{warm.peak_mb:.0f}", ""],
    ]
    threads = torch.get_num_threads()  # the worker's share of the cores, and its decoders
    spread = decoding.seconds / threads
    bounded = [e / max(f, spread) for e, f in zip(encodes, forwards)]
    rows.append(
        [
            name,
            "encode / its bound",
            f"{statistics.median(bounded):.2f}",
            "",
            f"bound: the slower of pure forward and decoding over {threads} threads ({spread:.2f} s); "
            f"rounds: {listed(bounded)}",
        ]
    )
    achieved = [e / max(f, d) for e, f, d in zip(encodes, forwards, decodes)]
    parallel = statistics.median(decodes)
    rows.append(
        [
            name,
            "encode / its measured bound",
            f"{statistics.median(achieved):.2f}",
            "",
            f"bound: the slower of pure forward and decoding measured on {threads} decoder threads ({parallel:.2f} s, "
            f"{decoding.seconds / parallel:.2f}x faster than one); rounds: {listed(achieved)}",
        ]
    )
    figures = {
        "ratio": ratio,
        "storage": mlp.bytes_stored / frame_bytes,
        "bound": statistics.median(bounded),
        "measured": statistics.median(achieved),
    }
    return rows, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48, help="clips in all (60/20/20 train/valid/test)")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of pure forward and encode stage")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each clip")
    parser.add_argument("--format", default="flac", choices=("flac", "wav"))
    parser.add_argument("--encoders", default="mel,transformer,conv")
    parser.add_argument("--conv-width", type=int, default=64, help="channels of the conv encoder's first block")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=None, help="data and caches (default: a temporary folder)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-bench-"))
    name = f"bench_{args.clips}x{args.seconds:g}s_{args.format}"
    task = generated_task(name, workdir / "data", args.clips, args.seconds, 44_100, 2, args.format, epochs=10)
    memory = PeakMemory()
    encoders = {
        "mel": MelEncoder,
        "transformer": lambda: BenchTransformerEncoder(layers=args.layers, dim=args.dim, heads=max(1, args.dim // 64)),
        "conv": lambda: BenchConvEncoder(width=args.conv_width),
    }
    print(f"machine: {machine()}")
    print(
        f"task: {args.clips} clips of {args.seconds:g} s, 44.1 kHz stereo {args.format.upper()}, batch size {args.batch_size}"
    )
    rows, summary = [], []
    for key in args.encoders.split(","):
        encoder = encoders[key]()
        params = sum(p.numel() for p in encoder.parameters())
        label = f"{key} ({params / 1e6:.1f}M params)" if params else key
        encoder_rows, figures = measure(
            label,
            encoder,
            task,
            workdir / "data",
            workdir / f"cache-{key}",
            args.batch_size,
            args.device,
            args.rounds,
            memory,
        )
        rows += encoder_rows
        summary.append(
            f"{label}: encode wall / pure forward = {figures['ratio']:.2f}, "
            f"/ the slower of pure forward and decoding over the worker's threads = {figures['bound']:.2f} "
            f"(and as decoding measured on them = {figures['measured']:.2f}); "
            f"cache / float32 frames = {figures['storage']:.4f} (1/{1 / figures['storage']:.0f})"
        )
    print(table(rows, ["encoder", "stage", "seconds", "peak RSS MB", "notes"]))
    print("\n".join(summary))
    print(f"data and caches in {workdir}")


if __name__ == "__main__":
    main()
