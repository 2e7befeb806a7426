"""Write the reference outputs of torchaudio's resampler that ``tests/test_resample.py`` compares
``pytest_xares.data.resample`` with.

Needs torchaudio (X-ARES's resampler), so it runs in an environment that has it, e.g. the one
``pip install xares==0.1.3 torch==2.11.0 torchaudio==2.11.0`` makes::

    python benchmarks/resample_reference.py tests/data/resample_reference.npz

For each pair of rates it stores the input (2000 samples of tones in noise, float32, seeded) and
``torchaudio.functional.resample(input, orig, new)`` at its defaults, with the versions used.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torchaudio

#: The suite's rates to the encoders' (16 kHz mostly), and an upsampling or two.
PAIRS = ((44100, 16000), (22050, 16000), (48000, 16000), (32000, 16000), (11025, 16000), (8000, 16000), (16000, 24000))


def signal(rate: int, seed: int, samples: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / rate
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in rng.uniform(50, rate / 2 * 0.98, 6))
    return (0.1 * tones + 0.05 * rng.standard_normal(samples)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    args = parser.parse_args()
    arrays = {"versions": np.array(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}")}
    for seed, (orig, new) in enumerate(PAIRS):
        x = signal(orig, seed)
        arrays[f"in_{orig}_{new}"] = x
        arrays[f"out_{orig}_{new}"] = torchaudio.functional.resample(torch.from_numpy(x), orig, new).numpy()
    np.savez_compressed(args.output, **arrays)
    print(f"{len(PAIRS)} pairs written to {args.output} ({arrays['versions']})")


if __name__ == "__main__":
    main()
