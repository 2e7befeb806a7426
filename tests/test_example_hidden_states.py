"""The baseline encoders' ``hidden_states``, each around a small randomly initialised model of its own architecture.

Every layer is cut, trimmed and normalised as the output is, the last one is the output itself,
bit for bit, and ``forward`` never asks the model for more than its output.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from test_example_encoders import (  # noqa: F401  (_share_cores: an autouse fixture)
    RATE,
    _share_cores,
    tiny_data2vec,
    tiny_wav2vec2_config,
    tiny_whisper_config,
    transformers_or_skip,
)

from pytest_xares.encoder.checks import signal


def wav2vec2(stable: bool) -> torch.nn.Module:
    """wav2vec 2.0 with three layers: large's layout (layer-norm convolutions, stable layer norm) or base's
    (group-norm convolutions, a layer norm before the transformer and none after it)."""
    transformers = transformers_or_skip()
    from pytest_xares.example_encoders.wav2vec2 import Wav2Vec2Encoder

    config = tiny_wav2vec2_config()
    config.num_hidden_layers = 3
    if not stable:
        config.feat_extract_norm, config.do_stable_layer_norm, config.conv_bias = "group", False, False
    torch.manual_seed(0)
    return Wav2Vec2Encoder(transformers.Wav2Vec2Model(config))


def data2vec() -> torch.nn.Module:
    return tiny_data2vec(layers=3)


def whisper() -> torch.nn.Module:
    """Whisper's encoder with three layers and 3 s windows (150 positions): the computation of 30 s ones, cheaper."""
    transformers_or_skip()
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as WhisperEncoderModel

    from pytest_xares.example_encoders.whisper import WhisperEncoder

    config = tiny_whisper_config(positions=150)
    config.encoder_layers = 3
    torch.manual_seed(0)
    return WhisperEncoder(WhisperEncoderModel(config))


def dasheng() -> torch.nn.Module:
    """Dasheng with three blocks and windows of 1 s (25 patches of 40 ms) instead of 10.08 s."""
    try:
        from dasheng.pretrained.pretrained import Dasheng

        from pytest_xares.example_encoders.dasheng import DashengEncoder
    except Exception as error:  # a torchaudio built for another torch raises OSError, not ImportError
        pytest.skip(f"dasheng cannot be imported here ({type(error).__name__}: {error}); install pytest-xares[dasheng]")
    torch.manual_seed(0)
    return DashengEncoder(Dasheng(embed_dim=32, depth=3, num_heads=2, target_length=100))


BUILDERS: dict[str, Callable[[], torch.nn.Module]] = {
    "wav2vec2-large": lambda: wav2vec2(stable=True),
    "wav2vec2-base": lambda: wav2vec2(stable=False),
    "data2vec": data2vec,
    "whisper": whisper,
    "dasheng": dasheng,
}
LAYERS = 4  # three transformer layers (blocks), and their input


def model_of(encoder: torch.nn.Module) -> torch.nn.Module:
    return encoder.encoder if hasattr(encoder, "encoder") else encoder.model


def short_windows(encoder: torch.nn.Module) -> float:
    """Have the encoder cut its input into short pieces (wav2vec2 and data2vec: chunks of 1 s; whisper
    and dasheng as built here: windows of 3 s and 1 s), and say how long they are in seconds."""
    if hasattr(encoder, "max_chunk_seconds"):
        encoder.max_chunk_seconds = 1.0
    return encoder.window_samples / RATE if hasattr(encoder, "window_samples") else 1.0


def run(encoder: torch.nn.Module, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``forward``'s output and the hidden states."""
    with torch.inference_mode():
        return encoder(audio), encoder.hidden_states(audio)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_gives_every_layer_in_the_outputs_shape_and_the_last_is_the_output(name: str) -> None:
    encoder = BUILDERS[name]()
    output, layers = run(encoder, signal(1.3, RATE, seed=0, batch=2))
    assert isinstance(layers, list) and len(layers) == LAYERS
    assert all(layer.shape == output.shape for layer in layers), [layer.shape for layer in layers]
    assert torch.equal(layers[-1], output)  # bit for bit
    assert all(torch.isfinite(layer).all() for layer in layers)
    assert not any(torch.allclose(a, b) for a, b in itertools.pairwise(layers))  # each layer its own


@pytest.mark.parametrize("name", ["wav2vec2-large", "wav2vec2-base", "data2vec", "whisper"])
def test_the_layers_below_the_top_are_the_models_own_hidden_states(name: str) -> None:
    """On an input of one chunk (or one window), all on the frame grid, layers 0 to L - 1 are what
    transformers records: the transformer's input, then each layer's output."""
    encoder = BUILDERS[name]()
    if name == "whisper":
        audio = signal(3.0, RATE, seed=1)  # one whole window: no frame is trimmed
    else:  # no sample after the last frame, which group norm would count
        audio = signal(1.3, RATE, seed=1)
        audio = audio[:, : encoder.spans(audio.shape[1])[0][1]]
    _, layers = run(encoder, audio)
    if name == "whisper":
        inputs = encoder.log_mel(audio)
    else:
        variance, mean = torch.var_mean(audio, dim=1, correction=0, keepdim=True)
        inputs = (audio - mean) / torch.sqrt(variance + 1e-7) if encoder.normalize else audio
    with torch.inference_mode():
        expected = model_of(encoder)(inputs, output_hidden_states=True).hidden_states
    assert len(expected) == LAYERS
    for layer, reference in zip(layers[:-1], expected[:-1]):
        torch.testing.assert_close(layer, reference)


def test_the_top_layer_of_a_stable_layer_norm_model_is_after_its_final_norm() -> None:
    encoder = BUILDERS["wav2vec2-large"]()
    normed: list[torch.Tensor] = []
    encoder.model.encoder.layer_norm.register_forward_hook(lambda module, args, output: normed.append(output))
    with torch.inference_mode():
        layers = encoder.hidden_states(signal(1.0, RATE, seed=2))
    assert len(normed) == 1 and torch.equal(layers[-1], normed[0])


def pieces(encoder: torch.nn.Module, audio: torch.Tensor) -> list[torch.Tensor] | None:
    """The parts of ``audio`` whose layers, end to end, are its layers: wav2vec2's and data2vec's
    chunks (each normalised on its own, the last over the rest of the input), whisper's windows;
    ``None`` for dasheng, whose windows are cut from one spectrogram of the whole input."""
    if hasattr(encoder, "spans"):
        spans = encoder.spans(audio.shape[1])
        return [audio[:, start:end] for start, end in spans[:-1]] + [audio[:, spans[-1][0] :]]
    if hasattr(encoder, "window_samples"):
        return list(audio.split(encoder.window_samples, dim=1))
    return None


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_long_input_gives_every_layer_the_outputs_frames_cut_as_the_output_is(name: str) -> None:
    encoder = BUILDERS[name]()
    audio = signal(3.4 * short_windows(encoder), RATE, seed=3)
    audio[:, audio.shape[1] // 2 :] *= 4  # a louder second half: the chunks' normalisations differ
    windows: list[int] = []
    (encoder.model.norm if name == "dasheng" else model_of(encoder)).register_forward_pre_hook(
        lambda module, args: windows.append(1)
    )
    output, layers = run(encoder, audio)
    assert len(windows) == 2 * 4  # four pieces, for the output and again for the hidden states
    assert len(layers) == LAYERS and torch.equal(layers[-1], output)
    assert all(layer.shape == output.shape for layer in layers)
    parts = pieces(encoder, audio)
    if parts is not None:
        alone = [run(encoder, part)[1] for part in parts]
        for number, layer in enumerate(layers):
            torch.testing.assert_close(layer, torch.cat([part[number] for part in alone], dim=1))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_clip_gets_the_same_layers_alone_as_in_a_batch(name: str) -> None:
    encoder = BUILDERS[name]()
    piece = short_windows(encoder)
    audio = signal(2.5 * piece, RATE, seed=4, batch=3)
    audio[1] *= 10  # a loud neighbour
    _, together = run(encoder, audio)
    for row in range(3):
        _, alone = run(encoder, audio[row : row + 1])
        for layer, single in zip(together, alone):
            torch.testing.assert_close(layer[row : row + 1], single, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_takes_one_dimensional_input_as_forward_does(name: str) -> None:
    encoder = BUILDERS[name]()
    audio = signal(0.7, RATE, seed=5)
    output, layers = run(encoder, audio[0])
    _, batched = run(encoder, audio)
    assert output.ndim == 3 and len(layers) == LAYERS
    for layer, reference in zip(layers, batched):
        assert layer.shape == output.shape
        torch.testing.assert_close(layer, reference)


@pytest.mark.parametrize("name", ["wav2vec2-large", "wav2vec2-base", "data2vec", "whisper"])
def test_forward_asks_the_model_for_its_output_only(name: str) -> None:
    encoder = BUILDERS[name]()
    calls: list[dict[str, Any]] = []
    model_of(encoder).register_forward_pre_hook(lambda module, args, kwargs: calls.append(kwargs), with_kwargs=True)
    with torch.inference_mode():
        encoder(signal(0.5, RATE, seed=6))
        assert calls and not any(kwargs.get("output_hidden_states") for kwargs in calls)
        encoder.hidden_states(signal(0.5, RATE, seed=6))
    assert calls[-1].get("output_hidden_states") is True
