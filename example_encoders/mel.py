"""A log-mel filterbank "encoder": no weights, no training, no torchaudio.

It is the baseline every learned encoder should beat, and lets the whole pipeline run offline::

    pytest --xares-encoder=pytest_xares.example_encoders.mel:MelEncoder
"""

from __future__ import annotations

import math

import torch


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """The HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(bands: int, n_fft: int, sampling_rate: int) -> torch.Tensor:
    """Triangular filters, ``[n_fft // 2 + 1, bands]``, evenly spaced on the mel scale from 0 Hz to Nyquist.

    Each triangle is evaluated at the exact bin frequencies, so even the narrowest low band
    keeps a non-zero weight on some bin.
    """
    nyquist = torch.tensor(sampling_rate / 2, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(0.0, 1.0, bands + 2, dtype=torch.float64) * hz_to_mel(nyquist))
    bins = torch.linspace(0.0, float(nyquist), n_fft // 2 + 1, dtype=torch.float64)[:, None]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class MelEncoder(torch.nn.Module):
    """64 log-mel energies per 10 ms frame of 16 kHz audio (25 ms Hann window, 512-point FFT).

    Every clip of a batch is transformed on its own, so a clip gets the same frames alone as in a
    batch, and the same every run.
    """

    sampling_rate = 16000
    output_dim = 64
    hop_size_in_ms = 10

    def __init__(self) -> None:
        super().__init__()
        self.hop = self.sampling_rate * self.hop_size_in_ms // 1000  # 160
        self.window_length = self.sampling_rate * 25 // 1000  # 400
        self.n_fft = 2 ** math.ceil(math.log2(self.window_length))  # 512
        self.register_buffer("window", torch.hann_window(self.window_length), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(self.output_dim, self.n_fft, self.sampling_rate))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` (or ``[samples]``) → ``[batch, samples // 160 + 1, 64]`` float32."""
        batch = audio.reshape(1, -1) if audio.ndim == 1 else audio
        return torch.stack([self._log_mel(clip) for clip in batch.float()])

    def _log_mel(self, clip: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            clip,
            n_fft=self.n_fft,
            hop_length=self.hop,
            win_length=self.window_length,
            window=self.window,
            center=True,
            pad_mode="constant",  # reflection would fail on clips shorter than half a window
            return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()  # [bins, frames]
        return torch.log(power.T @ self.filterbank + 1e-6)
