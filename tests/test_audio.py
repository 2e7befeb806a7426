from __future__ import annotations

import numpy as np
import pytest

from pytest_xares.data.audio import AudioError, crop, decode
from pytest_xares.data.shards import encode_audio


def test_crops_are_consecutive_and_the_remainder_is_dropped() -> None:
    pieces = crop(np.arange(10, dtype=np.float32), 4)
    assert [p.tolist() for p in pieces] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_a_clip_shorter_than_a_crop_is_zero_padded_to_one_crop() -> None:
    (piece,) = crop(np.ones(3, dtype=np.float32), 5)
    assert piece.tolist() == [1, 1, 1, 0, 0]


def test_exact_multiple_and_no_crop() -> None:
    assert len(crop(np.zeros(8, dtype=np.float32), 4)) == 2
    audio = np.zeros(7, dtype=np.float32)
    assert crop(audio, None)[0] is audio


@pytest.mark.parametrize("extension", ["wav", "flac", "ogg", "mp3"])
def test_decode_averages_channels_and_resamples(extension: str) -> None:
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, left], axis=1)
    audio = decode(encode_audio(stereo, 44100, extension), 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) < 1200  # lossy codecs add priming samples
    spectrum = np.abs(np.fft.rfft(audio[: 16000 // 2 * 2]))
    assert abs(np.argmax(spectrum) * 16000 / (len(audio[: 16000 // 2 * 2])) - 440) < 5


def test_undecodable_bytes_raise_audio_error() -> None:
    with pytest.raises(AudioError, match="cannot decode"):
        decode(b"definitely not audio", 16000)
