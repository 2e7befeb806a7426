"""The baseline encoders, each around a small randomly initialised model of its own architecture.

Nothing is downloaded: the models are built from configs, and the hub is switched off. Where an
encoder's optional dependency cannot be imported (dasheng needs torchaudio, whose wheels need the
torch build they were made for), its tests skip with the reason.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import pytest_xares
from pytest_xares.encoder import EncoderSpec, load_class
from pytest_xares.encoder.checks import signal
from pytest_xares.engine.runtime import share_cores

RATE = 16_000


def transformers_or_skip() -> ModuleType:
    return pytest.importorskip("transformers", reason="the wav2vec2, whisper and data2vec encoders need transformers")


def tiny_wav2vec2_config() -> Any:
    """wav2vec2-large-100k-voxpopuli's architecture (layer-norm convolutions, stable layer norm), shrunk."""
    transformers = transformers_or_skip()
    return transformers.Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(8,) * 7,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )


def tiny_wav2vec2() -> torch.nn.Module:
    transformers = transformers_or_skip()
    from pytest_xares.example_encoders.wav2vec2 import Wav2Vec2Encoder

    torch.manual_seed(0)
    return Wav2Vec2Encoder(transformers.Wav2Vec2Model(tiny_wav2vec2_config()))


def tiny_data2vec(layers: int = 2) -> torch.nn.Module:
    transformers = transformers_or_skip()
    from pytest_xares.example_encoders.data2vec import Data2VecEncoder

    torch.manual_seed(0)
    config = transformers.Data2VecAudioConfig(
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=5,
        num_conv_pos_embedding_layers=2,
        num_conv_pos_embedding_groups=4,
    )
    return Data2VecEncoder(transformers.Data2VecAudioModel(config))


def tiny_whisper_config(positions: int = 1500) -> Any:
    """whisper-base's encoder shape (80 mel bins; 1500 positions make 30 s windows), narrow and shallow."""
    transformers = transformers_or_skip()
    return transformers.WhisperConfig(
        d_model=32,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=64,
        max_source_positions=positions,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=64,
    )


def tiny_whisper(positions: int = 1500) -> torch.nn.Module:
    transformers_or_skip()
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as WhisperEncoderModel

    from pytest_xares.example_encoders.whisper import WhisperEncoder

    torch.manual_seed(0)
    return WhisperEncoder(WhisperEncoderModel(tiny_whisper_config(positions)))


def tiny_dasheng() -> torch.nn.Module:
    try:
        from dasheng.pretrained.pretrained import Dasheng

        from pytest_xares.example_encoders.dasheng import DashengEncoder
    except Exception as error:  # a torchaudio built for another torch raises OSError, not ImportError
        pytest.skip(f"dasheng cannot be imported here ({type(error).__name__}: {error}); install pytest-xares[dasheng]")
    torch.manual_seed(0)
    return DashengEncoder(Dasheng(embed_dim=32, depth=1, num_heads=2))


BUILDERS: dict[str, Callable[[], torch.nn.Module]] = {
    "wav2vec2": tiny_wav2vec2,
    "data2vec": tiny_data2vec,
    "whisper": tiny_whisper,
    "dasheng": tiny_dasheng,
}
#: For the demo task's 480 one-second clips, a Whisper of 3 s windows: the same computation, a tenth of the cost.
DEMO_BUILDERS = {**BUILDERS, "whisper": lambda: tiny_whisper(positions=150)}
PUBLISHED_SOURCES = {
    "wav2vec2": "facebook/wav2vec2-large-100k-voxpopuli",
    "data2vec": "facebook/data2vec-audio-base",
    "whisper": "openai/whisper-base",
}
#: The published models' attributes: (sampling rate, output size, hop in ms).
PUBLISHED = {
    "wav2vec2": (16_000, 1024, 20),
    "data2vec": (16_000, 768, 20),
    "whisper": (16_000, 512, 20),
    "dasheng": (16_000, 768, 40),
}


@pytest.fixture(scope="module", autouse=True)
def _share_cores() -> Iterator[None]:
    """Under xdist, each worker takes its share of the cores, as the plugin's workers do: these
    tests are compute-bound, and two workers of two threads each on two cores slow each other down."""
    threads = torch.get_num_threads()
    share_cores()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the demo task, synthesised on first use and shared by the encoders."""
    return tmp_path_factory.mktemp("demo-data")


@pytest.fixture(scope="module")
def ten_minutes() -> torch.Tensor:
    return 0.1 * torch.randn(1, 600 * RATE, generator=torch.Generator().manual_seed(0))


def encode(encoder: torch.nn.Module, audio: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return encoder(audio)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_passes_every_interface_check(name: str, tmp_path: Path) -> None:
    report = pytest_xares.check_encoder(BUILDERS[name](), cache_dir=tmp_path)
    assert report, str(report)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_scores_the_demo_task(name: str, demo_data: Path, tmp_path: Path) -> None:
    results = pytest_xares.evaluate(
        DEMO_BUILDERS[name](),
        tasks=["demo_pitch"],
        methods=("knn",),
        data_dir=demo_data,
        cache_dir=tmp_path,
        progress=False,
    )
    assert 0.0 <= results.score("demo_pitch", "knn") <= 1.0


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_declares_the_published_attributes_and_its_hop_is_the_frame_spacing(name: str) -> None:
    encoder = BUILDERS[name]()
    rate, dim, hop = PUBLISHED[name]
    assert (type(encoder).sampling_rate, type(encoder).output_dim, type(encoder).hop_size_in_ms) == (rate, dim, hop)
    assert encoder.output_dim == 32  # the instance reports the size of the model it wraps
    for seconds in (0.5, 3.3, 7.0):
        frames = encode(encoder, signal(seconds, rate, seed=0)).shape[1]
        assert abs(frames - seconds * 1000 / hop) <= 1, (seconds, frames)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_the_module_spec_names_the_wrapper(name: str) -> None:
    encoder = BUILDERS[name]()
    assert load_class(EncoderSpec.parse(f"pytest_xares.example_encoders.{name}", Path.cwd())) is type(encoder)


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec", "whisper"])
def test_constructs_with_no_arguments_from_the_published_weights(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    built = BUILDERS[name]()
    wrapper = type(built)
    if name == "whisper":
        from transformers.models.whisper.modeling_whisper import WhisperModel as loader

        model = built.encoder
    else:
        loader, model = wrapper.model_class, built.model
    asked: list[str] = []

    def from_pretrained(source: str, *args: object, **kwargs: object) -> torch.nn.Module:
        asked.append(source)
        return model

    monkeypatch.setattr(loader, "from_pretrained", from_pretrained)
    assert wrapper().output_dim == 32
    assert asked == [PUBLISHED_SOURCES[name]] == [wrapper.default_source]


# wav2vec2 and data2vec: balanced chunks on the convolutions' frame grid.


def test_chunks_are_balanced_cover_the_frame_grid_and_are_never_a_short_remainder() -> None:
    transformers_or_skip()
    from pytest_xares.example_encoders.wav2vec2 import chunk_spans

    max_frames = 100
    for samples in [400, 401, 720, 32_000, 32_079, 32_080, 32_400, 32_401, 64_321, 100_000, 1_000_003]:
        spans = chunk_spans(samples, 400, 320, max_frames)
        frames = [(end - start - 400) // 320 + 1 for start, end in spans]
        assert sum(frames) == (samples - 400) // 320 + 1  # the frames of one pass over the whole input
        assert max(frames) <= max_frames and max(frames) - min(frames) <= 1
        assert len(spans) == 1 or min(frames) >= max_frames // 2  # no short remainder
        assert spans[0][0] == 0 and spans[-1][1] <= samples
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end - start == 400 - 320  # neighbours share exactly what adjacent frames share


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec"])
def test_ten_minutes_give_the_frames_of_one_pass_in_chunks_of_at_most_10_s(
    name: str, ten_minutes: torch.Tensor
) -> None:
    encoder = BUILDERS[name]()
    lengths: list[int] = []
    encoder.model.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    frames = encode(encoder, ten_minutes).shape[1]
    assert frames == int(encoder.model._get_feat_extract_output_lengths(ten_minutes.shape[1])) == 29_999
    assert len(lengths) == 60 and max(lengths) <= 10 * RATE + 80


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec"])
def test_a_remainder_is_spread_over_the_chunks_not_encoded_alone(name: str) -> None:
    encoder = BUILDERS[name]()
    encoder.max_chunk_seconds = 2.0
    lengths: list[int] = []
    encoder.model.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    output = encode(encoder, signal(4.05, RATE, seed=2))  # 2 s + 2 s + 50 ms with fixed chunks
    assert len(lengths) == 3 and min(lengths) > 1.3 * RATE
    assert output.shape[1] == (int(4.05 * RATE) - 400) // 320 + 1


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec"])
def test_a_short_clip_is_one_pass_over_the_feature_extractors_normalised_input(name: str) -> None:
    transformers = transformers_or_skip()
    encoder = BUILDERS[name]()
    assert encoder.normalize  # layer-norm convolutions: trained on normalised audio
    audio = 0.3 * signal(1.5, RATE, seed=3) + 0.1
    inputs = transformers.Wav2Vec2FeatureExtractor(do_normalize=True)(
        audio[0].numpy(), sampling_rate=RATE, return_tensors="pt"
    )
    with torch.inference_mode():
        expected = encoder.model(inputs.input_values).last_hidden_state
    torch.testing.assert_close(encode(encoder, audio), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec"])
def test_each_chunk_is_normalised_on_its_own_as_x_ares_does(name: str) -> None:
    encoder = BUILDERS[name]()
    encoder.max_chunk_seconds = 1.0
    audio = signal(2.0, RATE, seed=6)
    audio[:, RATE:] *= 5  # a louder second half: one normalisation over the clip would differ
    (first, end_first), (second, _) = encoder.spans(audio.shape[1])
    with torch.inference_mode():
        output = encode(encoder, audio)
        alone = [encode(encoder, audio[:, first:end_first]), encode(encoder, audio[:, second:])]
    torch.testing.assert_close(output, torch.cat(alone, dim=1))


@pytest.mark.parametrize("name", ["wav2vec2", "data2vec"])
def test_an_input_shorter_than_the_receptive_field_gives_one_frame(name: str) -> None:
    output = encode(BUILDERS[name](), signal(0.01, RATE, seed=4, batch=2))
    assert output.shape == (2, 1, 32) and torch.isfinite(output).all()


def test_wav2vec2_loads_a_local_pretraining_checkpoint_named_by_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transformers = transformers_or_skip()
    from pytest_xares.example_encoders.wav2vec2 import Wav2Vec2Encoder

    torch.manual_seed(0)
    checkpoint = transformers.Wav2Vec2ForPreTraining(tiny_wav2vec2_config())  # as the published one is saved
    checkpoint.save_pretrained(tmp_path)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(tmp_path)
    monkeypatch.setenv("XARES_WAV2VEC2_MODEL", str(tmp_path))
    loaded = Wav2Vec2Encoder()
    assert not loaded.normalize  # as the saved feature extractor says
    audio = signal(1.0, RATE, seed=5)
    expected = Wav2Vec2Encoder(checkpoint.wav2vec2.eval(), normalize=False)
    torch.testing.assert_close(encode(loaded, audio), encode(expected, audio))


# whisper: 30 s windows, 20 ms frames, only those of real audio kept.


def test_whisper_log_mel_is_the_feature_extractors() -> None:
    transformers = transformers_or_skip()
    encoder = tiny_whisper()
    audio = signal(12.0, RATE, seed=6)
    window = torch.nn.functional.pad(audio, (0, 30 * RATE - audio.shape[1]))
    expected = transformers.WhisperFeatureExtractor()(
        audio[0].numpy(), sampling_rate=RATE, return_tensors="pt"
    ).input_features
    torch.testing.assert_close(encoder.log_mel(window), expected, atol=1e-4, rtol=1e-4)


def test_whisper_keeps_only_the_frames_of_real_audio() -> None:
    encoder = tiny_whisper()
    audio = signal(45.0, RATE, seed=7, batch=2)
    output = encode(encoder, audio)
    assert output.shape == (2, 2250, 32)  # 45 s / 20 ms: not 3000 (two padded windows)
    # The first 30 s window in full, then the 15 s left (padded to a window) with its padding frames dropped.
    torch.testing.assert_close(output[:, :1500], encode(encoder, audio[:, : 30 * RATE]))
    torch.testing.assert_close(output[:, 1500:], encode(encoder, audio[:, 30 * RATE :]))
    assert encode(encoder, audio[:, 30 * RATE :]).shape[1] == 750
    assert encode(encoder, audio[:, :1]).shape[1] == 1


def test_whisper_takes_ten_minutes_as_twenty_windows(ten_minutes: torch.Tensor) -> None:
    encoder = tiny_whisper()
    windows: list[int] = []
    encoder.encoder.register_forward_pre_hook(lambda module, args: windows.append(args[0].shape[-1]))
    assert encode(encoder, ten_minutes).shape[1] == 30_000
    assert windows == [3000] * 20


def test_whisper_loads_a_local_checkpoint_named_by_its_environment_variable_and_keeps_its_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transformers = transformers_or_skip()
    from pytest_xares.example_encoders.whisper import WhisperEncoder

    torch.manual_seed(0)
    checkpoint = transformers.WhisperForConditionalGeneration(tiny_whisper_config())  # as the published one is saved
    checkpoint.save_pretrained(tmp_path)
    monkeypatch.setenv("XARES_WHISPER_MODEL", str(tmp_path))
    loaded = WhisperEncoder()
    assert type(loaded.encoder).__name__ == "WhisperEncoder" and loaded.window_samples == 30 * RATE
    audio = signal(2.0, RATE, seed=9)
    torch.testing.assert_close(encode(loaded, audio), encode(WhisperEncoder(checkpoint.model.encoder.eval()), audio))


# dasheng: its own 10.08 s windows.


def test_dasheng_encodes_long_inputs_in_its_own_windows_and_pads_only_what_is_too_short_for_one_patch(
    ten_minutes: torch.Tensor,
) -> None:
    encoder = tiny_dasheng()
    windows: list[int] = []
    encoder.model.norm.register_forward_pre_hook(lambda module, args: windows.append(args[0].shape[1]))
    assert encode(encoder, ten_minutes).shape[1] == 15_000  # (samples // 160 + 1) // 4
    assert max(windows) == 252 and sum(windows) == 15_000
    assert encode(encoder, signal(10.12, RATE, seed=10)).shape[1] == 253  # a last window of one patch
    assert encode(encoder, signal(0.01, RATE, seed=11, batch=2)).shape[:2] == (2, 1)
