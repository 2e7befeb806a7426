"""Speech recognition (LibriSpeech-100h): a transcript per utterance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_xares.errors import LabelError
from pytest_xares.task.base import Task


@dataclass(frozen=True, kw_only=True)
class AsrTask(Task):
    """Speech recognition through a frozen causal language model (``lm``: a Hugging Face name or a
    local folder) and a trained adapter from encoder frames to its embeddings; scored by
    max(0, 1 − WER)."""

    lm: str = "Qwen/Qwen2.5-0.5B"
    max_new_tokens: int = 200
    metric: str = "1 - WER"

    kind: ClassVar[str] = "asr"
    head: ClassVar[str] = "pytest_xares.heads.asr"
    folds_allowed: ClassVar[bool] = False

    def target(self, metadata: Any) -> str:
        value = self.field(metadata)
        if not isinstance(value, str):
            raise LabelError(f"transcript {value!r} is not a string")
        return value
