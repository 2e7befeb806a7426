"""How time and memory grow with the number of clips, with the log-mel encoder.

    python benchmarks/scale.py [--sizes 1000,10000,50000] [--seconds 0.5] [--dim 768]

For each size a generated clip task (16 kHz mono WAV clips, split 60/20/20) is encoded and probed
in a fresh process, which reports the encode-stage wall time, the probes' training time, the
cached bytes and its peak resident memory while encoding and while probing, beside the size of the
training split's raw audio in float32 (what holding a whole split in memory would take). A
linear probe on random ``--dim``-dimensional features of the same number of training clips shows
what the probes cost with a large encoder's embeddings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import PeakMemory, generated_task, machine, megabytes, stage, table


def one_size(clips: int, seconds: float, dim: int, workdir: Path) -> dict[str, float]:
    """Generate, encode and probe one size in this process; the figures as a dict."""
    from pytest_xares.engine.progress import Progress
    from pytest_xares.engine.runtime import Runtime
    from pytest_xares.example_encoders.mel import MelEncoder
    from pytest_xares.heads.linear import linear_probe
    from pytest_xares.heads.train import TrainConfig
    from pytest_xares.settings import Settings

    memory = PeakMemory()
    started = time.perf_counter()
    task = generated_task(f"scale_{clips}x{seconds:g}s", workdir / "data", clips, seconds, 16_000, 1, "wav", epochs=10)
    generate_seconds = time.perf_counter() - started
    settings = Settings.with_defaults(data_dir=workdir / "data", cache_dir=workdir / f"cache-{clips}", offline=True)
    runtime = Runtime(settings, Progress.for_python(False), encoder=MelEncoder())
    runtime.encoder()
    baseline_mb = memory.current_mb()
    with stage(memory) as encoding:
        mlp = runtime.evaluate(task, "mlp")
    with stage(memory) as knn_stage:
        knn = runtime.evaluate(task, "knn")

    train = clips - 2 * (clips // 5)
    rng = np.random.default_rng(0)
    features = rng.standard_normal((train + clips // 5, dim)).astype(np.float32)
    labels = rng.integers(0, 10, len(features))
    pair = (features[:train], labels[:train]), (features[train:], labels[train:])
    with stage(memory) as wide:
        linear_probe(pair[0], pair[1], pair[1][0], 10, TrainConfig(10, 32, 1e-3, 42))
    return {
        "clips": clips,
        "generate_s": generate_seconds,
        "baseline_mb": baseline_mb,
        "encode_s": mlp.seconds["encode"],
        "mlp_s": mlp.seconds["probe"],
        "knn_s": knn.seconds["probe"],
        "encode_peak_mb": encoding.peak_mb,
        "knn_peak_mb": knn_stage.peak_mb,
        "bytes": mlp.bytes_stored,
        "raw_train_mb": train * seconds * 16_000 * 4 / 1e6,
        "wide_probe_s": wide.seconds,
        "score": mlp.score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="clip counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each clip")
    parser.add_argument("--dim", type=int, default=768, help="feature size of the random-feature probe")
    parser.add_argument("--workdir", type=Path, default=None, help="data and caches (default: a temporary folder)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a single size, in a child
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-scale-"))
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.seconds, args.dim, workdir)))
        return

    print(f"machine: {machine()}")
    print(
        f"log-mel encoder, clips of {args.seconds:g} s at 16 kHz mono WAV, split 60/20/20; each size in a fresh process"
    )
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        command = [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--seconds",
            str(args.seconds),
            "--dim",
            str(args.dim),
            "--workdir",
            str(workdir),
        ]
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(
            [
                r["clips"],
                f"{r['generate_s']:.1f}",
                f"{r['encode_s']:.1f}",
                f"{r['clips'] / r['encode_s']:.0f}",
                f"{r['mlp_s']:.2f}",
                f"{r['knn_s']:.2f}",
                f"{r['wide_probe_s']:.2f}",
                megabytes(r["bytes"]),
                f"{r['baseline_mb']:.0f}",
                f"{r['encode_peak_mb']:.0f}",
                f"{r['knn_peak_mb']:.0f}",
                f"{r['raw_train_mb']:.0f}",
            ]
        )
        print(f"  {size} clips done", file=sys.stderr)
    print(
        table(
            rows,
            [
                "clips",
                "generate s",
                "encode s",
                "clips/s",
                "mlp s",
                "kNN s",
                f"mlp s ({args.dim}-d)",
                "cache",
                "RSS before MB",
                "peak encode MB",
                "peak kNN MB",
                "raw train audio MB",
            ],
        )
    )
    print(f"data and caches in {workdir}")


if __name__ == "__main__":
    main()
