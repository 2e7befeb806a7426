"""Dasheng base (the ``dasheng`` package's ``dasheng_base``), the X-ARES reference: 768-d frames every 40 ms.

::

    pip install -e ".[dasheng]"      # dasheng needs torchaudio built for your torch
    pytest --xares-encoder=pytest_xares.example_encoders.dasheng -n 4

The ``dasheng`` package downloads its checkpoint on first use and keeps it in torch's hub cache
(``~/.cache/torch/hub/checkpoints``), which later runs use offline. ``XARES_DASHENG_MODEL=/path/to/dasheng_base.pt``
or ``DashengEncoder("/path/to/dasheng_base.pt")`` loads a checkpoint file instead, and
``DashengEncoder(model)`` wraps a model you built (a ``dasheng.pretrained.pretrained.Dasheng``).
"""

from __future__ import annotations

import os

import torch

from pytest_xares.example_encoders._layers import join_layers

try:
    from dasheng import dasheng_base
except Exception as error:  # torchaudio built for another torch fails with OSError or RuntimeError, not ImportError
    raise ImportError(
        f"the dasheng example encoder needs the dasheng package and a torchaudio built for this torch "
        f"(importing it raised {type(error).__name__}: {error}); pip install 'pytest-xares[dasheng]'"
    ) from error


class DashengEncoder(torch.nn.Module):
    """Dasheng's last layer, one 768-d frame per 40 ms of 16 kHz audio (a 4-frame patch of 10 ms mel frames).

    Long inputs need no cutting here: dasheng itself encodes its patch sequence in windows of
    10.08 s (its ``target_length`` of mel frames), so attention memory is bounded, and the last
    window, however short, is one the model accepts (down to a single patch: its time position
    embeddings are cut to the window's length, as for any clip shorter than 10 s). Only an input
    too short for one patch (under 30 ms) is zero-padded to one, giving one frame.

    The mel front end runs clip by clip: its decibel floor (120 dB below the maximum) is taken
    over the whole tensor it is given, so a batch would let a loud clip raise the floor of a quiet
    neighbour; one clip at a time, every clip gets the frames it gets alone.

    ``hidden_states`` gives the model's ``depth + 1`` layers (13 for dasheng base), each windowed as
    the output is: layer 0 is the first block's input (the patch embeddings plus the time and
    frequency position embeddings), layer ``i`` the output of transformer block ``i``, and the
    last the output itself, the last block's output after the final layer norm.
    """

    sampling_rate = 16_000
    output_dim = 768
    hop_size_in_ms = 40

    #: A checkpoint file to load instead of the published one.
    source_env = "XARES_DASHENG_MODEL"

    def __init__(self, model: torch.nn.Module | str | os.PathLike | None = None) -> None:
        """``model``: a built dasheng model, a checkpoint path, or ``None`` for ``$XARES_DASHENG_MODEL``
        or the published ``dasheng_base`` weights."""
        super().__init__()
        if model is None:
            model = os.environ.get(self.source_env)
        if not isinstance(model, torch.nn.Module):
            model = dasheng_base(os.fspath(model) if model is not None else None)
        self.model = model.eval()
        self.output_dim = model.embed_dim
        # The centred STFT gives 1 + samples // hop frames, and one patch takes 4 of them: 480 samples.
        self.min_samples = (model.patch_size[-1] - 1) * model.hop_size

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` (or ``[samples]``) → ``[batch, (samples // 160 + 1) // 4, output_dim]``."""
        return self.model.forward_spectrogram(self._spectrograms(audio))

    def hidden_states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """``[batch, samples]`` (or ``[samples]``) → ``depth + 1`` tensors of ``forward``'s shape, from
        layer 0 (the first block's input) to the output, which ``forward`` returns.

        The model runs as in ``forward``, window by window; hooks on its blocks record each window's
        block input and the outputs of all blocks but the last, whose normalised output is the output.
        """
        windows: list[list[torch.Tensor]] = []

        def record_input(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            windows.append([args[0]])

        def record_output(module: torch.nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            windows[-1].append(output)

        handles = [self.model.blocks.register_forward_pre_hook(record_input)]
        handles += [block.register_forward_hook(record_output) for block in list(self.model.blocks)[:-1]]
        try:
            output = self.model.forward_spectrogram(self._spectrograms(audio))
        finally:
            for handle in handles:
                handle.remove()
        return [*join_layers(windows), output]

    def _spectrograms(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` (or ``[samples]``) → the model's normalised mel spectrograms, clip by clip."""
        batch = (audio.reshape(1, -1) if audio.ndim == 1 else audio).float()
        batch = torch.nn.functional.pad(batch, (0, max(0, self.min_samples - batch.shape[1])))
        return torch.cat([self.model.forward_to_spec(clip[None]) for clip in batch])
