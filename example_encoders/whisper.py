"""Whisper's audio encoder (openai/whisper-base), an X-ARES baseline: 512-d frames every 20 ms.

::

    pip install -e ".[whisper]"
    pytest --xares-encoder=pytest_xares.example_encoders.whisper -n 4

Only the encoder is kept. The weights come from the Hugging Face hub (cached by transformers; with
``HF_HUB_OFFLINE=1`` only the cache is used). ``XARES_WHISPER_MODEL=/path/to/model`` or
``WhisperEncoder("/path/to/model")`` loads a saved copy, and ``WhisperEncoder(WhisperModel(config))``
wraps a model you built (its encoder is taken).

X-ARES's own Whisper wrapper declares a 10 ms hop and keeps the frames of the zero padding that
fills every input to 30 s; this one declares the 20 ms the encoder emits and keeps only the frames
of real audio, so a 45 s clip gives 2250 frames, not 3000.
"""

from __future__ import annotations

import math
import os

import torch

from pytest_xares.example_encoders._layers import join_layers

try:
    from transformers import WhisperFeatureExtractor
    from transformers.models.whisper import modeling_whisper
except ImportError as error:
    raise ImportError(
        "the whisper example encoder needs transformers>=4.40: "
        "pip install 'pytest-xares[whisper]' (or [examples] for all four baselines)"
    ) from error


class WhisperEncoder(torch.nn.Module):
    """The last hidden layer of Whisper's encoder, one 512-d frame per 20 ms of 16 kHz audio.

    The encoder accepts exactly 30 s windows (3000 log-mel frames, 10 ms apart, of which two
    strided convolutions make 1500 frames, 20 ms apart). An input is cut into consecutive 30 s
    windows, the last zero-padded to 30 s as Whisper pads every input (so no window is ever
    shorter than the model accepts); of each window's 1500 frames only those centred on real audio
    are kept, ``ceil(samples / 320)`` in all. Memory is that of one 30 s window per clip of the
    batch, whatever the input's length.

    The log-mel features are Whisper's (80 bins, 25 ms Hann window, each window's log floored at
    its maximum minus 8, then scaled), computed here in torch on the encoder's device with the
    filter bank of transformers' ``WhisperFeatureExtractor``; each clip's window gets its own
    floor, so a clip gets the same frames alone as in a batch.

    ``hidden_states`` gives the encoder's ``encoder_layers + 1`` layers (7 for whisper-base), each
    windowed and trimmed as the output is: layer 0 is the transformer's input (the convolutions'
    output plus the sinusoidal position embedding), layer ``i`` the output of transformer layer
    ``i``, and the last the output itself, after the final layer norm.
    """

    sampling_rate = 16_000
    output_dim = 512
    hop_size_in_ms = 20

    #: Where the weights come from when no model is given: this environment variable, else the hub id.
    source_env = "XARES_WHISPER_MODEL"
    default_source = "openai/whisper-base"

    def __init__(self, model: torch.nn.Module | str | os.PathLike | None = None) -> None:
        """``model``: a Whisper model or its encoder, a hub id or local path, or ``None`` for
        ``$XARES_WHISPER_MODEL`` or ``openai/whisper-base``."""
        super().__init__()
        if model is None:
            model = os.environ.get(self.source_env) or self.default_source
        if not isinstance(model, torch.nn.Module):
            model = modeling_whisper.WhisperModel.from_pretrained(os.fspath(model))
        if not isinstance(model, modeling_whisper.WhisperEncoder):
            model = model.get_encoder()  # the decoder of a whole model is dropped here
        self.encoder = model.eval()
        self.output_dim = model.config.d_model
        extractor = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins, sampling_rate=self.sampling_rate)
        self.n_fft, self.mel_hop = extractor.n_fft, extractor.hop_length
        mel_frames_per_frame = model.conv1.stride[0] * model.conv2.stride[0]  # 2
        self.frame_samples = self.mel_hop * mel_frames_per_frame  # 320: 20 ms
        self.window_samples = model.config.max_source_positions * self.frame_samples  # 480 000: 30 s
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("mel_filters", torch.from_numpy(extractor.mel_filters).float(), persistent=False)

    def log_mel(self, windows: torch.Tensor) -> torch.Tensor:
        """``[n, 480 000]`` audio windows → ``[n, 80, 3000]`` log-mel features, as Whisper computes them."""
        spectrum = torch.stft(
            windows, self.n_fft, self.mel_hop, window=self.window, center=True, pad_mode="reflect", return_complex=True
        )
        power = spectrum[..., :-1].abs().square()  # the centred STFT's extra last frame is dropped
        log_mel = torch.matmul(self.mel_filters.T, power).clamp(min=1e-10).log10()
        log_mel = torch.maximum(log_mel, log_mel.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (log_mel + 4.0) / 4.0

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` (or ``[samples]``) → ``[batch, ceil(samples / 320), output_dim]``."""
        return self._encode(audio, all_layers=False)[0]

    def hidden_states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """``[batch, samples]`` (or ``[samples]``) → ``encoder_layers + 1`` tensors of ``forward``'s
        shape, from layer 0 (the transformer's input) to the output, which ``forward`` returns."""
        return self._encode(audio, all_layers=True)

    def _encode(self, audio: torch.Tensor, all_layers: bool) -> list[torch.Tensor]:
        """The output (or, with ``all_layers``, every hidden state), each window's frames of real audio concatenated."""
        batch = (audio.reshape(1, -1) if audio.ndim == 1 else audio).float()
        samples = batch.shape[1]
        windows = max(1, math.ceil(samples / self.window_samples))
        batch = torch.nn.functional.pad(batch, (0, windows * self.window_samples - samples))
        outputs = []
        for start in range(0, windows * self.window_samples, self.window_samples):
            features = self.log_mel(batch[:, start : start + self.window_samples]).to(self.encoder.dtype)
            kept = math.ceil(min(samples - start, self.window_samples) / self.frame_samples)
            if all_layers:
                encoded = self.encoder(features, output_hidden_states=True)
                # The last entry is the output, after the final layer norm: taken from it, it is forward's exactly.
                layers = [*encoded.hidden_states[:-1], encoded.last_hidden_state]
            else:
                layers = [self.encoder(features).last_hidden_state]
            outputs.append([layer[:, :kept] for layer in layers])
        return join_layers(outputs)
