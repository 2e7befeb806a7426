"""Speech recognition (LibriSpeech-100h): a transcript per utterance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task

#: The token between the audio and the transcript in X-ARES 0.1.3 (a special token of Qwen2.5's).
DEFAULT_SEPARATOR = "<|vision_end|>"


@dataclass(frozen=True, kw_only=True)
class AsrTask(Task):
    """Speech recognition through a frozen causal language model (``lm``: a Hugging Face name or a
    local folder) and a trained adapter from encoder frames to its embeddings; scored by
    max(0, 1 − WER). ``separator`` is the token the LM reads between the audio and the transcript
    (a language model whose vocabulary lacks it gets its bos, else a newline, instead)."""

    lm: str = "Qwen/Qwen2.5-0.5B"
    max_new_tokens: int = 200
    separator: str = DEFAULT_SEPARATOR
    metric: str = "1 - WER"

    kind: ClassVar[str] = "asr"
    head: ClassVar[str] = "pytest_xares.heads.asr"
    folds_allowed: ClassVar[bool] = False

    def target(self, metadata: Any) -> str:
        value = self.field(metadata)
        if not isinstance(value, str):
            raise LabelError(f"transcript {value!r} is not a string")
        return value
