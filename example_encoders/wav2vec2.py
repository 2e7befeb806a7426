"""wav2vec 2.0 (facebook/wav2vec2-large-100k-voxpopuli), an X-ARES baseline: 1024-d frames every 20 ms.

::

    pip install -e ".[wav2vec2]"
    pytest --xares-encoder=pytest_xares.example_encoders.wav2vec2 -n 4

The weights come from the Hugging Face hub (cached by transformers; with ``HF_HUB_OFFLINE=1`` only
the cache is used). ``XARES_WAV2VEC2_MODEL=/path/to/model`` or ``Wav2Vec2Encoder("/path/to/model")``
loads a saved copy instead, and ``Wav2Vec2Encoder(Wav2Vec2Model(config))`` wraps a model you built.
``data2vec.py`` reuses this wrapper: data2vec-audio has the same convolutional front end.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence

import torch

from pytest_xares.example_encoders._layers import join_layers

try:
    from transformers import AutoFeatureExtractor, Wav2Vec2Model
except ImportError as error:
    raise ImportError(
        "the wav2vec2 and data2vec example encoders need transformers>=4.40: "
        "pip install 'pytest-xares[wav2vec2]' (or [data2vec], or [examples] for all four baselines)"
    ) from error


def conv_geometry(kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """(receptive field, stride) in samples of a stack of unpadded 1-D convolutions: (400, 320) for wav2vec 2.0.

    Output frame ``j`` of the stack sees exactly the samples ``[j * stride, j * stride + receptive field)``,
    so an input of ``n`` samples gives ``(n - receptive field) // stride + 1`` frames.
    """
    field = 1
    for kernel, stride in zip(reversed(kernels), reversed(strides)):
        field = (field - 1) * stride + kernel
    return field, math.prod(strides)


def chunk_spans(samples: int, receptive_field: int, stride: int, max_frames: int) -> list[tuple[int, int]]:
    """Sample spans ``[start, end)`` that cut the frame grid of a whole input into near-equal chunks.

    The input's frames (as the model would compute them in one pass) are split into the fewest
    chunks of at most ``max_frames`` frames, all of equal size give or take one frame; each span
    holds exactly the samples its frames see, so neighbouring spans overlap by ``receptive_field -
    stride`` samples and the concatenated frames are those of one pass, in number and in time.
    Balancing the chunks means no chunk is ever a short remainder: every chunk of a cut input holds
    at least half of ``max_frames``. An input shorter than one receptive field gives one span
    that runs past its end: the caller pads it.
    """
    frames = max(1, (samples - receptive_field) // stride + 1)
    count = math.ceil(frames / max_frames)
    bounds = [i * frames // count for i in range(count + 1)]
    return [(first * stride, (last - 1) * stride + receptive_field) for first, last in itertools.pairwise(bounds)]


def normalizes_input(config: object, source: str | None = None) -> bool:
    """Whether the model expects zero-mean unit-variance input, as the feature extractor at ``source`` says.

    Without a feature extractor config (a model built from a config, or weights saved without
    one), the convention of the original checkpoints decides: those with layer-normalised
    convolutions (wav2vec 2.0 large, data2vec) were trained on normalised audio, those with group
    norm (wav2vec 2.0 base) on raw audio.
    """
    if source is not None:
        try:
            return bool(AutoFeatureExtractor.from_pretrained(source).do_normalize)
        except (OSError, ValueError, AttributeError):  # no preprocessor_config.json, or not a wav2vec2-style one
            pass
    return getattr(config, "feat_extract_norm", "layer") == "layer"


class Wav2Vec2Encoder(torch.nn.Module):
    """The last hidden layer of wav2vec 2.0, one 1024-d frame per 20 ms of 16 kHz audio.

    As in X-ARES's baseline, the model sees at most ``max_chunk_seconds`` (10 s) at once and each
    chunk is normalised to zero mean and unit variance on its own (where the model's feature
    extractor normalises). The chunks are cut on the model's own frame grid (``chunk_spans``), so a
    10-minute input gives the frames of one pass in number and timing (X-ARES's fixed 10 s cuts
    lose a frame at each cut, and pad a tail under 1 s with zeros whose frames enter the pooled
    embedding). Chunks are balanced, so the last one is never a short remainder that would see too
    little context; an input shorter than the convolutions' 25 ms receptive field is zero-padded to
    it (after normalisation, as the feature extractor pads) and gives one frame. Every clip of a
    batch is cut at the same places and normalised on its own, so a clip gets the same frames alone
    as in a batch.

    ``hidden_states`` gives the model's ``num_hidden_layers + 1`` layers (25 for the large model,
    13 for base), each cut and normalised as the output is: layer 0 is the transformer's input
    (the projected convolutional features plus the convolutional position embedding,
    layer-normalised in the models that normalise before their layers: base and data2vec), layer
    ``i`` the output of transformer layer ``i``, and the last the output itself. In a
    stable-layer-norm model (large) that is the top layer's output after the final layer norm,
    which transformers 5 leaves out of ``hidden_states`` (its last entry is before the norm).
    """

    sampling_rate = 16_000
    output_dim = 1024
    hop_size_in_ms = 20

    #: Where the weights come from when no model is given: this environment variable, else the hub id.
    source_env = "XARES_WAV2VEC2_MODEL"
    default_source = "facebook/wav2vec2-large-100k-voxpopuli"
    model_class: type = Wav2Vec2Model
    #: The longest stretch of audio the transformer sees at once (X-ARES's baselines: 10 s).
    max_chunk_seconds = 10.0

    def __init__(
        self, model: torch.nn.Module | str | os.PathLike | None = None, *, normalize: bool | None = None
    ) -> None:
        """``model``: a built model, a hub id or local path, or ``None`` for ``$source_env`` or ``default_source``.

        ``normalize`` overrides whether input is normalised (default: as the feature extractor
        beside the weights says; see ``normalizes_input``).
        """
        super().__init__()
        if model is None:
            model = os.environ.get(self.source_env) or self.default_source
        source = None
        if not isinstance(model, torch.nn.Module):
            source = os.fspath(model)
            model = self.model_class.from_pretrained(source)
        config = model.config
        self.model = model.eval()
        self.normalize = normalizes_input(config, source) if normalize is None else normalize
        self.output_dim = config.hidden_size
        self.receptive_field, self.stride = conv_geometry(config.conv_kernel, config.conv_stride)

    def spans(self, samples: int) -> list[tuple[int, int]]:
        """The chunks an input of ``samples`` samples is encoded in."""
        max_frames = int(self.max_chunk_seconds * self.sampling_rate) // self.stride
        return chunk_spans(samples, self.receptive_field, self.stride, max_frames)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``[batch, samples]`` (or ``[samples]``) → ``[batch, (samples - 400) // 320 + 1, output_dim]``."""
        return self._encode(audio, all_layers=False)[0]

    def hidden_states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """``[batch, samples]`` (or ``[samples]``) → ``num_hidden_layers + 1`` tensors of ``forward``'s
        shape, from layer 0 (the transformer's input) to the output, which ``forward`` returns."""
        return self._encode(audio, all_layers=True)

    def _encode(self, audio: torch.Tensor, all_layers: bool) -> list[torch.Tensor]:
        """The output (or, with ``all_layers``, every hidden state), each chunk's frames concatenated."""
        batch = (audio.reshape(1, -1) if audio.ndim == 1 else audio).float()
        spans = self.spans(batch.shape[1])
        # The last chunk's statistics take in the samples after its last frame too, so one chunk is
        # normalised over the whole clip, as the feature extractor does.
        tails = [end for _, end in spans[:-1]] + [batch.shape[1]]
        chunks = [
            self._encode_chunk(batch[:, start:tail], end - start, all_layers)
            for (start, end), tail in zip(spans, tails)
        ]
        return join_layers(chunks)

    def _encode_chunk(self, chunk: torch.Tensor, samples: int, all_layers: bool) -> list[torch.Tensor]:
        """The output (or, with ``all_layers``, every hidden state) for the first ``samples`` samples of
        ``chunk`` (zero-padded to them where it is shorter: an input under one receptive field),
        normalised over all of ``chunk``."""
        if self.normalize:
            variance, mean = torch.var_mean(chunk, dim=1, correction=0, keepdim=True)
            chunk = (chunk - mean) / torch.sqrt(variance + 1e-7)
        chunk = torch.nn.functional.pad(chunk[:, :samples], (0, max(0, samples - chunk.shape[1])))
        if not all_layers:
            return [self.model(chunk.to(self.model.dtype)).last_hidden_state]
        output = self.model(chunk.to(self.model.dtype), output_hidden_states=True)
        # transformers 5 records a stable-layer-norm model's top layer before its final norm, 4 after it.
        return [*output.hidden_states[:-1], output.last_hidden_state]
