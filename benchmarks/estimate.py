"""How well ``--xares-estimate`` predicts a real run: estimate against encoding, on the demo suite.

    python benchmarks/estimate.py [--encoder pytest_xares.example_encoders.mel] [--rounds 3] [--device cpu]

Synthesises the demo suite's data once, then for a few rounds alternates the estimate (in a fresh
runtime, so the encoder is timed anew) and a real evaluation into a fresh cache, and prints per task
the estimated and the real encode time (the median over the rounds), their ratio, the estimated and
the stored cache bytes, and the totals.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import machine, table

import pytest_xares
from pytest_xares.data.prepare import prepare_data
from pytest_xares.engine.progress import Progress
from pytest_xares.engine.runtime import Runtime
from pytest_xares.settings import Settings
from pytest_xares.task.registry import load_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="pytest_xares.example_encoders.mel")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workdir", type=Path, default=None, help="data and caches (default: a temporary folder)")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as temporary:
        work = args.workdir or Path(temporary)
        tasks = load_tasks("demo", None)
        for task in tasks:
            prepare_data(task, work / "data")
        estimated: dict[str, list[float]] = {t.name: [] for t in tasks}
        real: dict[str, list[float]] = {t.name: [] for t in tasks}
        cache_estimate: dict[str, int] = {}
        stored: dict[str, int] = {}
        for round_ in range(args.rounds):
            settings = Settings.with_defaults(
                encoder=args.encoder, suite="demo", data_dir=work / "data", cache_dir=work / f"unused-{round_}",
                device=args.device,
            )  # fmt: skip
            runtime = Runtime(settings, Progress.for_python(enabled=False))
            for task in tasks:
                estimate = runtime.estimate(task)
                assert estimate.encode_seconds is not None and estimate.cache_bytes is not None
                estimated[task.name].append(estimate.encode_seconds)
                cache_estimate[task.name] = estimate.cache_bytes
            assert not (work / f"unused-{round_}").exists(), "the estimate wrote into the cache"
            results = pytest_xares.evaluate(
                args.encoder, suite="demo", data_dir=work / "data", cache_dir=work / f"cache-{round_}",
                device=args.device, progress=False,
            )  # fmt: skip
            for task in tasks:
                mine = [r for r in results.results if r.task == task.name]
                real[task.name].append(sum(r.seconds["encode"] for r in mine))
                stored[task.name] = max(r.bytes_stored for r in mine)
        rows = []
        for task in tasks:
            e, r = statistics.median(estimated[task.name]), statistics.median(real[task.name])
            rows.append(
                [task.name, f"{e:.2f}", f"{r:.2f}", f"{r / e:.2f}", f"{cache_estimate[task.name] / 1e6:.2f}",
                 f"{stored[task.name] / 1e6:.2f}"]
            )  # fmt: skip
        e_total = sum(statistics.median(v) for v in estimated.values())
        r_total = sum(statistics.median(v) for v in real.values())
        rows.append(
            ["total", f"{e_total:.2f}", f"{r_total:.2f}", f"{r_total / e_total:.2f}",
             f"{sum(cache_estimate.values()) / 1e6:.2f}", f"{sum(stored.values()) / 1e6:.2f}"]
        )  # fmt: skip
        headers = ["task", "estimated encode s", "real encode s", "real / estimated", "estimated MB", "stored MB"]
        print(table(rows, headers))
        rounds = [sum(v[i] for v in real.values()) / sum(v[i] for v in estimated.values()) for i in range(args.rounds)]
        print("total real / estimated per round:", ", ".join(f"{x:.2f}" for x in rounds))


if __name__ == "__main__":
    main()
