"""How much the probes' scores move with the seed: the noise a baseline tolerance must absorb.

    python benchmarks/seed_noise.py [--seeds 10] [--encoder pytest_xares.example_encoders.mel]

Encodes the demo suite once (the embeddings are cached and do not depend on the seed) and trains
every head with ``--seeds`` seeds in one evaluation (``pytest_xares.evaluate(..., seeds=N)``, as
``--xares-seeds=N`` does), then once more with the first seed alone. Prints per task and method
the mean, the standard deviation (n - 1) and the range of the score over the seeds; the first
seed's own score and how many standard deviations it lies from the mean (what a one-seed gate
against an N-seed baseline starts from); the width of the 95 % bootstrap interval over the test
clips of the one-seed score and of the seed mean; and the tolerance that a baseline entry written
from this run gates with (``results.baseline.Entry.derived_tolerance``: 3 × the std × √(1/N +
1/n), at least 0.01) when the gated run has one seed (n = 1) and when it has N, beside the default
of entries without a measured spread. ``--markdown`` prints the rows as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pytest_xares
from pytest_xares.results.baseline import DEFAULT_TOLERANCE, Entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42, help="the first seed (default: the plugin's)")
    parser.add_argument("--encoder", default="pytest_xares.example_encoders.mel")
    parser.add_argument("--suite", default="demo")
    parser.add_argument("--workdir", type=Path, default=None, help="data and cache (default: a temporary folder)")
    parser.add_argument("--markdown", action="store_true", help="print the rows as a Markdown table as well")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-seed-noise-"))
    where = {"suite": args.suite, "data_dir": workdir / "data", "cache_dir": workdir / "cache", "progress": False}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.encoder} on the {args.suite} suite")
    started = time.perf_counter()
    single = pytest_xares.evaluate(args.encoder, seed=args.seed, **where)  # encodes; one seed
    middle = time.perf_counter()
    many = pytest_xares.evaluate(args.encoder, seed=args.seed, seeds=args.seeds, **where)  # the same embeddings
    ended = time.perf_counter()
    print(
        f"one seed (encoding included): {middle - started:.1f} s; {args.seeds} seeds "
        f"{args.seed}–{args.seed + args.seeds - 1} on the cached embeddings: {ended - middle:.1f} s"
    )
    alone = {(r.task, r.method): r for r in single.results}
    header = (
        f"{'task':16s} {'method':6s} {'mean':>7s} {'std':>7s} {'min':>7s} {'max':>7s} {'seed ' + str(args.seed):>8s} "
        f"{'(x-m)/s':>7s} {'CI 1 seed':>9s} {'CI mean':>8s} {'tol. n=1':>8s} {'n=N':>6s}"
    )
    print(header)
    rows = []
    for r in many.results:
        scores, std = r.seed_scores, r.seed_std or 0.0
        first = alone[(r.task, r.method)]
        away = (first.score - r.score) / std if std > 0 else 0.0
        entry = Entry(r.score, std=std, seeds=args.seeds)
        tolerance = (entry.derived_tolerance(1) or DEFAULT_TOLERANCE, entry.derived_tolerance(args.seeds) or 0.0)
        width, width_mean = first.interval[1] - first.interval[0], r.interval[1] - r.interval[0]
        rows.append((r, std, first, width, width_mean, tolerance))
        print(
            f"{r.task:16s} {r.method:6s} {r.score:7.4f} {std:7.4f} {min(scores):7.4f} {max(scores):7.4f} "
            f"{first.score:8.4f} {away:+7.2f} {width:9.4f} {width_mean:8.4f} {tolerance[0]:8.4f} {tolerance[1]:6.4f}"
        )
    mlp = [std for r, std, *_ in rows if r.method == "mlp"]
    print(f"standard deviation over seeds, MLP: largest {max(mlp):.4f}, median {sorted(mlp)[len(mlp) // 2]:.4f}")
    print(f"default tolerance of entries without a measured spread: {DEFAULT_TOLERANCE}")
    if args.markdown:
        print(
            f"\n| task | method | mean ± std over {args.seeds} seeds (range) | seed {args.seed} | "
            f"95 % CI width: 1 seed, mean | tolerance: 1-seed gate, {args.seeds}-seed gate |"
        )
        print("|---|---|---|---|---|---|")
        for r, std, first, width, width_mean, tolerance in rows:
            print(
                f"| {r.task} | {r.method} | {r.score:.3f} ± {std:.3f} ({min(r.seed_scores):.3f}–"
                f"{max(r.seed_scores):.3f}) | {first.score:.3f} | {width:.3f}, {width_mean:.3f} | "
                f"{tolerance[0]:.3f}, {tolerance[1]:.3f} |"
            )


if __name__ == "__main__":
    main()
