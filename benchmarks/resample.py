"""What X-ARES's resampler (``pytest_xares.data.resample``) costs beside soxr's HQ resampler.

    python benchmarks/resample.py [--seconds 60]

Resamples ``--seconds`` of noise from each rate of the suite to 16 kHz, five times in one process,
on one thread and on all threads, and prints the median time per minute of audio for both, the
ratio, and the largest difference between their outputs relative to the signal (soxr's filter
cuts off differently near Nyquist, which is why the suite does not use it). soxr is not a
dependency of pytest-xares: ``pip install soxr`` to run this.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from pytest_xares.data.resample import resample

RATES = (44100, 48000, 22050, 32000, 8000)


def timed(function: Callable[..., object], *args: object, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    import soxr

    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, soxr {soxr.__version__}, {torch.get_num_threads()} threads available")
    print("rate -> 16 kHz | threads | ours s/min | soxr HQ s/min | ours / soxr | max |ours - soxr| / max |x|")
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        for rate in RATES:
            x = (0.3 * rng.standard_normal(int(args.seconds * rate))).astype(np.float32)
            ours = timed(resample, x, rate, 16000) * 60 / args.seconds
            theirs = timed(soxr.resample, x, rate, 16000, "HQ") * 60 / args.seconds
            a, b = resample(x, rate, 16000), soxr.resample(x, rate, 16000, quality="HQ")
            n = min(len(a), len(b))
            gap = float(np.abs(a[:n] - b[:n]).max() / np.abs(x).max())
            print(f"{rate:>6} | {threads} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f} | {gap:.3f}")


if __name__ == "__main__":
    main()
