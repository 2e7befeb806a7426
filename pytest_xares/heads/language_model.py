"""The frozen causal language model of the ASR head and its tokenizer: loaded from a Hugging Face
name or a local folder, checked before any audio is encoded, with a message that says what to do
when it cannot be had."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pytest_xares.errors import Unavailable

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DEFAULT_LM = "Qwen/Qwen2.5-0.5B"


def load_language_model(
    lm: str, device: torch.device, offline: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The causal LM ``lm`` (a hub name or a local directory) and its tokenizer, frozen in eval
    mode on ``device``, its weights float32 on every device (as X-ARES loads it; on CUDA the head
    runs it under float16 autocast). Raises ``Unavailable``, saying what
    to do, when transformers is not installed or the model cannot be loaded (``offline``: from
    the local Hugging Face cache only)."""
    transformers, tokenizer = _tokenizer(lm, offline)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(lm, local_files_only=offline)
    except (OSError, ValueError) as error:  # not downloaded, no network, not a model directory
        raise Unavailable(_cannot_load(lm, error)) from None
    model.to(device=device, dtype=torch.float32)
    return model.eval().requires_grad_(False), tokenizer


def check_language_model(lm: str, offline: bool = False) -> None:
    """Raise ``Unavailable`` unless ``lm`` can be loaded: its tokenizer and configuration, cheaply,
    before hours of audio are encoded for it."""
    transformers, _ = _tokenizer(lm, offline)
    try:
        transformers.AutoConfig.from_pretrained(lm, local_files_only=offline)
    except (OSError, ValueError) as error:
        raise Unavailable(_cannot_load(lm, error)) from None


def _tokenizer(lm: str, offline: bool) -> tuple[Any, PreTrainedTokenizerBase]:
    try:
        import transformers
    except ImportError:
        raise Unavailable("the ASR task needs transformers: pip install 'pytest-xares[asr]'") from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(lm, local_files_only=offline)
    except (OSError, ValueError) as error:  # not downloaded, no network, not a model directory
        raise Unavailable(_cannot_load(lm, error)) from None
    if tokenizer.eos_token_id is None:
        raise Unavailable(
            f"the ASR language model {lm!r} has no eos token to end a transcript; point --xares-asr-lm at a causal LM whose tokenizer has one"
        )
    return transformers, tokenizer


def _cannot_load(lm: str, error: Exception) -> str:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    local = Path(lm).expanduser()
    if local.is_dir():
        what, example = f"{lm} does not hold a causal LM and its tokenizer (as save_pretrained writes them)", DEFAULT_LM
    elif lm.startswith(("/", ".", "~")) or local.exists():
        what, example = f"{lm} is not a directory", DEFAULT_LM
    else:
        what, example = "it is not downloaded and cannot be fetched from here", lm
    return (
        f"cannot load the ASR language model {lm!r}: {what}. Download it once while online, e.g. with "
        f"`hf download {example}` (`huggingface-cli download {example}` with huggingface_hub < 1.0), or point "
        f"--xares-asr-lm at a local copy ({reason})"
    )
