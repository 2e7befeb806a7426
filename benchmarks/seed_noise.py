"""How much the probes' scores move with the seed: the noise a baseline tolerance must absorb.

    python benchmarks/seed_noise.py [--seeds 10] [--encoder pytest_xares.example_encoders.mel]

Encodes the demo suite once (the embeddings are cached and do not depend on the seed), then
retrains every probe with each seed and prints, per task and method, the mean, standard deviation
and range of the score over seeds, beside the typical width of the 95 % bootstrap interval over
test clips.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import pytest_xares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--encoder", default="pytest_xares.example_encoders.mel")
    parser.add_argument("--suite", default="demo")
    parser.add_argument("--workdir", type=Path, default=None, help="data and cache (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-seed-noise-"))
    runs = [
        pytest_xares.evaluate(
            args.encoder,
            suite=args.suite,
            data_dir=workdir / "data",
            cache_dir=workdir / "cache",
            seed=seed,
            progress=False,
        )
        for seed in range(args.seeds)
    ]
    print(f"{args.encoder} on the {args.suite} suite, {args.seeds} seeds")
    print(f"{'task':14s} {'method':6s} {'mean':>7s} {'std':>7s} {'min':>7s} {'max':>7s} {'CI width':>9s}")
    worst = 0.0
    for first in runs[0].results:
        same = [r for run in runs for r in run.results if (r.task, r.method) == (first.task, first.method)]
        scores = [r.score for r in same]
        spread = statistics.pstdev(scores)
        worst = max(worst, spread)
        width = statistics.mean(r.interval[1] - r.interval[0] for r in same)
        print(
            f"{first.task:14s} {first.method:6s} {statistics.mean(scores):7.4f} {spread:7.4f} "
            f"{min(scores):7.4f} {max(scores):7.4f} {width:9.4f}"
        )
    print(f"largest standard deviation over seeds: {worst:.4f}")


if __name__ == "__main__":
    main()
