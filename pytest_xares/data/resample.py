"""Resampling as X-ARES resamples: band-limited interpolation with a Hann-windowed sinc, the
defaults of ``torchaudio.functional.resample`` (``lowpass_filter_width=6``, ``rolloff=0.99``),
written here from the published algorithm so that torchaudio is not needed.

The signal is reconstructed from its samples by sinc interpolation, band-limited to ``rolloff``
times the lower Nyquist frequency, and read at the new rate. With both rates divided by their
greatest common divisor (44 100 → 16 000 becomes 441 → 160), output sample ``j`` of every block of
``new`` is a fixed filter applied to the input around position ``j · orig / new``; the filter of
each phase spans ``lowpass_filter_width`` zero crossings on either side, tapered by a Hann window.
All phases together are one strided convolution. The kernel is computed with the same float32
operations in the same order as torchaudio computes it for a float32 waveform, so the output
equals torchaudio's to float precision; ``tests/test_resample.py`` checks it against torchaudio's
output stored with the test.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

#: Zero crossings of the sinc on either side of each output sample.
LOWPASS_FILTER_WIDTH = 6
#: The pass band as a fraction of the lower of the two Nyquist frequencies.
ROLLOFF = 0.99


def resample(audio: np.ndarray, orig: int, new: int) -> np.ndarray:
    """``audio`` [samples] float32 at ``orig`` Hz, resampled to ``new`` Hz: ``ceil(samples · new /
    orig)`` samples, float32."""
    if orig == new:
        return audio
    divisor = math.gcd(orig, new)
    orig, new = orig // divisor, new // divisor
    kernel, width = _kernel(orig, new)
    signal = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None, None]
    padded = torch.nn.functional.pad(signal, (width, width + orig))
    with torch.inference_mode():
        phases = torch.nn.functional.conv1d(padded, kernel, stride=orig)  # [1, new, blocks]
    out = phases[0].transpose(0, 1).reshape(-1)
    return out[: math.ceil(new * len(audio) / orig)].numpy()


@functools.lru_cache(maxsize=32)
def _kernel(orig: int, new: int) -> tuple[torch.Tensor, int]:
    """The filters of all ``new`` phases, ``[new, 1, 2 · width + orig]`` float32, and ``width``:
    the input samples used on either side beyond a block. Computed in float32 step by step as
    torchaudio computes them for a float32 waveform, so that they are the same numbers."""
    cutoff = min(orig, new) * ROLLOFF
    width = math.ceil(LOWPASS_FILTER_WIDTH * orig / cutoff)
    positions = torch.arange(-width, width + orig, dtype=torch.float32)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=torch.float32)[:, None, None] / new + positions
    t *= cutoff
    t = t.clamp_(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = torch.cos(t * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    t *= math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0), t.sin() / t)
    kernel *= window * (cutoff / orig)
    return kernel, width
