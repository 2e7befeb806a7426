"""Encoders for tests: small, fast, correct ones and files that define them."""

from __future__ import annotations

import textwrap
from pathlib import Path

#: The built-in log-mel encoder, by module spec: needs no downloaded weights.
MEL = "pytest_xares.example_encoders.mel"

#: The source of a small, fast, correct encoder: log energies of 16 bands of 10 ms frames.
BANDS_ENCODER = """
class BandsEncoder(torch.nn.Module):
    sampling_rate = 16000
    output_dim = 16
    hop_size_in_ms = 10

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(16))

    def forward(self, audio):
        if audio.ndim == 1:
            audio = audio[None]
        frames = audio[:, : audio.shape[1] // 160 * 160].reshape(audio.shape[0], -1, 160)
        spectrum = torch.fft.rfft(frames, dim=-1).abs()[..., :80]
        bands = spectrum.reshape(*spectrum.shape[:2], 16, 5).pow(2).mean(-1)
        return torch.log(bands + 1e-6) * self.scale
"""

#: The bands encoder with hidden states (``--xares-layers``): the bands, then three residual
#: mixing layers; ``forward`` returns the last, as X-ARES scores it.
LAYERED_ENCODER = (
    BANDS_ENCODER.replace("class BandsEncoder(", "class Bands(")
    + """

class LayeredEncoder(Bands):
    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.mixing = torch.nn.ParameterList(
            torch.nn.Parameter(0.3 * torch.randn(16, 16, generator=generator)) for _ in range(3)
        )

    def hidden_states(self, audio):
        states = [super().forward(audio)]
        for weight in self.mixing:
            states.append(states[-1] + torch.tanh(states[-1] @ weight))
        return states

    def forward(self, audio):
        return self.hidden_states(audio)[-1]
"""
)

#: The bands encoder, killing its process while it encodes for a task named ``tiny2`` (and only then):
#: a crashed xdist worker.
CRASHING_ENCODER = BANDS_ENCODER.replace(
    "    def forward(self, audio):\n",
    "    def forward(self, audio):\n"
    "        import os\n"
    "        if 'tiny2::' in os.environ.get('PYTEST_CURRENT_TEST', ''):\n"
    "            os._exit(1)\n",
)


def encoder_file(directory: Path, body: str, name: str = "my_encoder.py") -> Path:
    """Write an encoder module (imports of torch and math included) and return its path."""
    path = directory / name
    path.write_text("import math\nimport torch\n\n" + textwrap.dedent(body))
    return path
