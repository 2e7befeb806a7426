"""The resampler reproduces X-ARES's (torchaudio.functional.resample at its defaults) to float
precision, without torchaudio: checked against torchaudio's own outputs, computed once by
``benchmarks/resample_reference.py`` (torch 2.11.0, torchaudio 2.11.0) and stored in
``tests/data/resample_reference.npz``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pytest_xares.data.audio import decode
from pytest_xares.data.resample import resample

REFERENCE = np.load(Path(__file__).parent / "data" / "resample_reference.npz")
PAIRS = sorted({tuple(int(x) for x in name.split("_")[1:]) for name in REFERENCE.files if name.startswith("in_")})


@pytest.mark.parametrize(("orig", "new"), PAIRS, ids=[f"{o}->{n}" for o, n in PAIRS])
def test_the_resampler_gives_torchaudios_numbers(orig: int, new: int) -> None:
    x, expected = REFERENCE[f"in_{orig}_{new}"], REFERENCE[f"out_{orig}_{new}"]
    got = resample(x, orig, new)
    assert got.dtype == np.float32 and got.shape == expected.shape
    # float32 arithmetic: the same operations, a few units in the last place at most
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6 * np.abs(expected).max())


def test_decoding_resamples_the_mono_mix_with_it() -> None:
    rate = 44100
    stereo = np.stack([REFERENCE["in_44100_16000"], -0.5 * REFERENCE["in_44100_16000"]], axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, stereo, rate, format="WAV", subtype="FLOAT")
    decoded = decode(buffer.getvalue(), 16000)
    expected = resample(stereo.mean(axis=1, dtype=np.float32), rate, 16000)
    np.testing.assert_array_equal(decoded, expected)
    assert np.array_equal(decode(buffer.getvalue(), rate), stereo.mean(axis=1, dtype=np.float32))  # no resampling
