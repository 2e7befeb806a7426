"""What checking cache entries before use costs, beside a warm run of the demo suite.

    python benchmarks/verify.py [--frames-mb 256]

Runs the demo suite cold (log-mel encoder) into a temporary cache, then three warm runs in fresh
processes (``benchmarks/warm.py``'s timing), and prints: the time to read and check every JSON
entry (scores, check verdicts: the SHA-256 of the content) against reading them unchecked, and the
SHA-256 throughput on a frame file of ``--frames-mb`` MB, the check a frame-level task pays once
per split before it trains (a warm run pays none: its scores come from checked JSON entries).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from warm import run_suite

from pytest_xares.cache.store import Cache
from pytest_xares.embeddings.store import file_sha256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-mb", type=int, default=256)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="xares-verify-"))
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    encoder = "pytest_xares.example_encoders.mel"
    cold, _ = run_suite(encoder, workdir)
    warm = statistics.median(run_suite(encoder, workdir)[0] for _ in range(3))
    print(f"demo suite: cold {cold:.2f} s, warm {warm:.2f} s (median of 3)")

    cache = Cache(workdir / "cache")
    entries = [p for p in (workdir / "cache").rglob("*.json") if ".locks" not in p.parts]
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for path in entries:
            assert cache.read_entry(path, lambda value: value) is not None
    checked = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        for path in entries:
            json.loads(path.read_text("utf-8"))
    plain = (time.perf_counter() - started) / rounds
    print(
        f"{len(entries)} JSON entries read and checked: {checked * 1000:.2f} ms per run "
        f"({plain * 1000:.2f} ms unchecked; the check adds {(checked - plain) * 1000:.2f} ms, "
        f"{100 * (checked - plain) / warm:.3f} % of a warm run)"
    )

    frames = workdir / "frames.f16"
    rng = np.random.default_rng(0)
    with open(frames, "wb") as out:
        for _ in range(args.frames_mb):
            out.write(rng.standard_normal(1 << 19).astype(np.float16).tobytes())  # 1 MB
    file_sha256(frames)  # once, so that the file is in the page cache as a split just written is
    started = time.perf_counter()
    file_sha256(frames)
    seconds = time.perf_counter() - started
    rate = args.frames_mb / seconds
    print(
        f"frame file of {args.frames_mb} MB checked in {seconds:.2f} s ({rate:.0f} MB/s: "
        f"{1000 / rate:.1f} s per GB of frames, once per split before training)"
    )


if __name__ == "__main__":
    main()
