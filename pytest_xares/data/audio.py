"""Audio decoding (soundfile), down-mixing, resampling (X-ARES's, ``data.resample``) and cropping."""

from __future__ import annotations

import io

import numpy as np
import soundfile

from pytest_xares.data.resample import resample
from pytest_xares.errors import XaresError

#: File extensions tried, in this order, for a sample's audio member.
AUDIO_EXTENSIONS = ("flac", "wav", "mp3", "ogg", "opus", "aiff", "aif", "au")
#: Members X-ARES 0.1.3 would hand to its decoder that soundfile cannot read: named in the error.
UNDECODED_EXTENSIONS = ("m4a", "wma", "sox")


class AudioError(XaresError, ValueError):
    """A clip cannot be decoded."""


def decode(data: bytes, sampling_rate: int) -> np.ndarray:
    """Decode an encoded clip to mono float32 at ``sampling_rate``: channels are averaged, then
    resampled as X-ARES resamples (the operations are linear, so averaging first gives X-ARES's
    resample-then-average to float precision, at a fraction of the cost)."""
    try:
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(f"cannot decode audio ({error})") from None
    if audio.shape[0] == 0:
        raise AudioError("the clip holds no audio samples")
    if not np.isfinite(audio).all():  # only float files can hold them; the encoder would be blamed later
        bad = int(audio.size - np.count_nonzero(np.isfinite(audio)))
        raise AudioError(
            f"the decoded audio holds NaN or infinite samples ({bad} of {audio.size}): the file itself is broken, "
            f"replace the clip"
        )
    mono = audio.mean(axis=1, dtype=np.float32)
    if rate != sampling_rate:
        mono = resample(mono, rate, sampling_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def crop(audio: np.ndarray, length: int | None) -> list[np.ndarray]:
    """Consecutive non-overlapping crops of ``length`` samples, as the protocol says.

    A clip shorter than one crop is zero-padded to one crop; the remainder after the last full
    crop is dropped; without a crop length the clip is returned whole.

    >>> [c.tolist() for c in crop(np.arange(5.0), 2)]
    [[0.0, 1.0], [2.0, 3.0]]
    >>> [c.tolist() for c in crop(np.arange(1.0, 2.0), 3)]
    [[1.0, 0.0, 0.0]]
    """
    if length is None:
        return [audio]
    if len(audio) < length:
        return [np.pad(audio, (0, length - len(audio)))]
    return [audio[start : start + length] for start in range(0, len(audio) - length + 1, length)]
