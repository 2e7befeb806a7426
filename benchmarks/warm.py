"""Wall time of the demo suite, cold and then warm (everything cached), and where a warm run spends it.

    python benchmarks/warm.py [--warm-runs 3] [--encoder pytest_xares.example_encoders.mel]

Runs ``pytest --xares-encoder=ENCODER --xares-suite=demo`` (encoder checks included, no ``-n``)
in fresh processes with one data and cache directory: once cold, then ``--warm-runs`` times warm.
Each warm run is split at pytest's hooks into interpreter and plugin start-up, collection (where
torch is imported), the items and the exit, beside the time ``python -c "import torch"`` takes on
its own: the floor of any run that builds a torch encoder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAMPS = "XARES_BENCH_STAMPS"


# As a pytest plugin (``-p warm``): write the time of each phase to the file named by $XARES_BENCH_STAMPS.
def _stamp(what: str) -> None:
    if os.environ.get(STAMPS):
        with open(os.environ[STAMPS], "a") as out:
            out.write(f"{what} {time.time()}\n")


def pytest_configure(config: object) -> None:
    _stamp("configured")


def pytest_collection_finish(session: object) -> None:
    _stamp("collected")


def pytest_sessionfinish(session: object) -> None:
    _stamp("finished")


def run_suite(encoder: str, workdir: Path, stamps: Path | None = None) -> tuple[float, dict[str, float]]:
    """Wall seconds of one pytest run in a fresh process, and its phases when ``stamps`` is given."""
    env = {**os.environ, "XARES_DATA_DIR": str(workdir / "data"), "XARES_CACHE_DIR": str(workdir / "cache")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--xares-encoder={encoder}",
        "--xares-suite=demo",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if stamps is not None:
        stamps.unlink(missing_ok=True)
        env[STAMPS] = str(stamps)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
        command += ["-p", "warm"]
    started = time.time()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=workdir)
    ended = time.time()
    if stamps is None:
        return ended - started, {}
    marks = {name: float(at) for name, at in (line.split() for line in stamps.read_text().splitlines())}
    return ended - started, {
        "start-up and plugins": marks["configured"] - started,
        "collection (imports torch)": marks["collected"] - marks["configured"],
        "items": marks["finished"] - marks["collected"],
        "summary and exit": ended - marks["finished"],
    }


def import_torch_seconds() -> float:
    started = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--encoder", default="pytest_xares.example_encoders.mel")
    parser.add_argument("--workdir", type=Path, default=None, help="data and cache (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xares-warm-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    cold, _ = run_suite(args.encoder, workdir)
    print(f"cold run (synthesise, encode, train, check): {cold:.2f} s")
    warm = [run_suite(args.encoder, workdir, workdir / "stamps.txt") for _ in range(args.warm_runs)]
    print(
        f"warm runs: {', '.join(f'{w:.2f}' for w, _ in warm)} s (median {statistics.median(w for w, _ in warm):.2f} s)"
    )
    for phase in warm[0][1]:
        print(f"  {phase:28s} median {statistics.median(p[phase] for _, p in warm):.2f} s")
    floors = [import_torch_seconds() for _ in range(args.warm_runs)]
    print(f'python -c "import torch" alone: median {statistics.median(floors):.2f} s')
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
