"""Frame embeddings at scale: disk taken, and memory while encoding and while training the
frame-level probe, as the number of clips grows.

    python benchmarks/frames.py [--sizes 200,1000] [--seconds 10] [--dim 768] [--hop-ms 40]

For each size a generated frame-level task (16 kHz WAV clips with sound events, split 60/20/20) is
encoded by a wide random-projection encoder (``--dim`` outputs every ``--hop-ms``, like a large
transformer's output) and probed, in a fresh process. Reported: the stored bytes beside what the
same frames take in float32, and the peak resident memory while encoding and while training beside
the size of the frames on disk. Frames are kept float16 and memory-mapped, so allocated memory
should stay flat while the data grows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import PeakMemory, machine, megabytes, stage, table


class AnonymousPeak:
    """The peak of this process's anonymous resident memory (``RssAnon``: what it allocated, not
    the file pages a memory map brings in, which the kernel drops when memory is short), sampled
    every 20 ms in a thread while the block runs."""

    def __enter__(self) -> AnonymousPeak:
        import threading

        self.peak_mb, self.done = self.now(), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _sample(self) -> None:
        while not self.done.wait(0.02):
            self.peak_mb = max(self.peak_mb, self.now())

    @staticmethod
    def now() -> float:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("RssAnon:"))
        return int(line.split()[1]) / 1024


CLASSES = ("tone", "noise", "click")


class WideEncoder(torch.nn.Module):
    """``dim`` random projections of each ``hop_ms`` window of audio: a large encoder's output size
    at almost no compute, so the figures are about storage and memory."""

    sampling_rate = 16_000

    def __init__(self, dim: int, hop_ms: int) -> None:
        super().__init__()
        self.output_dim, self.hop_size_in_ms = dim, hop_ms
        self.window = self.sampling_rate * hop_ms // 1000
        self.projection = torch.nn.Linear(self.window, dim)
        torch.nn.init.normal_(self.projection.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        frames = audio.shape[-1] // self.window
        return torch.tanh(self.projection(audio[:, : frames * self.window].reshape(len(audio), frames, self.window)))


def write_split(folder: Path, name: str, clips: int, seconds: float, seed: int) -> None:
    from pytest_xares.data.shards import ShardSample, encode_audio, write_shard

    rng = np.random.default_rng(seed)
    rate = WideEncoder.sampling_rate
    samples = []
    for i in range(clips):
        audio = 0.01 * rng.standard_normal(int(seconds * rate))
        events = []
        for _ in range(rng.integers(0, 4)):
            onset = float(rng.uniform(0, seconds - 1))
            offset = onset + float(rng.uniform(0.2, 1.0))
            kind = int(rng.integers(len(CLASSES)))
            span = slice(int(onset * rate), int(offset * rate))
            t = np.arange(span.stop - span.start) / rate
            audio[span] += [
                0.3 * np.sin(2 * np.pi * 880 * t),
                0.2 * rng.standard_normal(len(t)),
                0.5 * (t * 50 % 1 < 0.02),
            ][kind]
            events.append({"onset": onset, "offset": offset, "label": CLASSES[kind]})
        samples.append(ShardSample(f"clip{i:06d}", encode_audio(audio.astype(np.float32), rate, "wav"), "wav", events))
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder / f"{name}_000000.tar", samples)


def one_size(clips: int, seconds: float, dim: int, hop_ms: int, workdir: Path) -> dict[str, float]:
    from pytest_xares.engine.progress import Progress
    from pytest_xares.engine.runtime import Runtime
    from pytest_xares.settings import Settings
    from pytest_xares.task import FrameTask, splits

    name = f"frames_{clips}x{seconds:g}s"
    folder = workdir / "data" / name
    sizes = {"train": clips - 2 * (clips // 5), "valid": clips // 5, "test": clips // 5}
    for seed, (split, count) in enumerate(sizes.items()):
        write_split(folder, f"{name}_{split}", count, seconds, seed)
    task = FrameTask(
        name=name,
        formal_name=name,
        splits=splits(f"{name}_train", f"{name}_valid", f"{name}_test"),
        classes=CLASSES,
        weight=1,
        segment_seconds=1.0,
        epochs=3,
    )
    settings = Settings.with_defaults(data_dir=workdir / "data", cache_dir=workdir / "cache", offline=True)
    runtime = Runtime(settings, Progress.for_python(False), encoder=WideEncoder(dim, hop_ms))
    runtime.encoder()
    baseline_mb = AnonymousPeak.now()
    with AnonymousPeak() as encoding_anon:
        runtime.evaluate(task, "mlp")  # encodes, then trains
    rows = sum(f.stat().st_size for f in (workdir / "cache").rglob("*.f16")) // 2
    # Train once more from the stored frames alone: drop the cached score, keep the embeddings.
    for entry in (workdir / "cache" / "results").rglob("*.json"):
        entry.unlink()
    with stage(PeakMemory()) as training, AnonymousPeak() as training_anon:
        result = runtime.evaluate(task, "mlp")
    return {
        "clips": clips,
        "baseline_mb": baseline_mb,
        "stored": result.bytes_stored,
        "float32": rows * 4,
        "frames_on_disk": rows * 2,
        "train_peak_mb": training.peak_mb,
        "encode_anon_mb": encoding_anon.peak_mb,
        "train_anon_mb": training_anon.peak_mb,
        "train_s": result.seconds["probe"],
        "score": result.score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--hop-ms", type=int, default=40)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.seconds, args.dim, args.hop_ms, Path(args.workdir))))
        return
    print(machine())
    rows = []
    for clips in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as workdir:
            command = [
                sys.executable,
                __file__,
                "--one",
                str(clips),
                "--workdir",
                workdir,
                "--seconds",
                str(args.seconds),
                "--dim",
                str(args.dim),
                "--hop-ms",
                str(args.hop_ms),
            ]
            figures = json.loads(
                subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            )
        rows.append(
            [
                clips,
                megabytes(figures["frames_on_disk"]),
                megabytes(figures["stored"]),
                f"{figures['stored'] / figures['float32']:.3f}",
                f"{figures['baseline_mb']:.0f} MB",
                f"{figures['encode_anon_mb']:.0f} MB",
                f"{figures['train_anon_mb']:.0f} MB",
                f"{figures['train_peak_mb']:.0f} MB",
                f"{figures['train_s']:.1f} s",
                f"{figures['score']:.3f}",
            ]
        )
    print(
        table(
            rows,
            [
                "clips",
                "frames f16",
                "stored",
                "÷ float32",
                "anon before",
                "anon peak: encode+train",
                "anon peak: train",
                "RSS peak: train",
                "train 3 epochs",
                "segment F1",
            ],
        )
    )
    print("anon: allocated memory (RssAnon); RSS also counts the memory-mapped frame pages, which the kernel can drop.")


if __name__ == "__main__":
    main()
