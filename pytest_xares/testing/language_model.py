"""A tiny language model for the ASR task, built offline.

    from pytest_xares.testing import tiny_language_model

    folder = tiny_language_model(tmp_path / "lm", ["the cat sat", "a dog ran"])
    pytest_xares.evaluate(MyEncoder(), tasks=["librispeech"], asr_lm=str(folder))

Needs transformers and tokenizers (the ``asr`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: The shape of Qwen2.5-0.5B, the ASR task's language model (494 M parameters).
QWEN25_05B = {
    "hidden_size": 896,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "intermediate_size": 4864,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}


#: Special tokens of Qwen2.5's tokenizer that the tiny one has too: the ASR task's separator.
SPECIAL_TOKENS = ("<|vision_end|>",)


def tiny_language_model(
    directory: Path, texts: Sequence[str], seed: int = 0, special_tokens: Sequence[str] = SPECIAL_TOKENS, **shape: Any
) -> Path:
    """Write a randomly initialised two-layer Qwen2 (the architecture of the ASR task's default
    model) and a byte-level BPE tokenizer trained on ``texts`` into ``directory``; returns it.

    Like Qwen2.5's, the tokenizer has no bos token, ``<|endoftext|>`` as eos and padding, and
    ``special_tokens`` (by default ``<|vision_end|>``, the ASR task's separator) as single tokens
    that decoding without special tokens leaves out. Its
    weights are drawn wider than usual (standard deviation 0.3, not 0.02), so the random model's
    logits are steep enough for an adapter to steer it within a few steps. ``shape`` overrides
    fields of the ``Qwen2Config`` (``QWEN25_05B`` gives the default model's size)."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", *special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )
    fast.add_special_tokens({"additional_special_tokens": list(special_tokens)})
    fields = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 64,
        "vocab_size": len(fast),
        "max_position_embeddings": 1024,
        "initializer_range": 0.3,
        **shape,
    }
    config = transformers.Qwen2Config(eos_token_id=fast.eos_token_id, **fields)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.Qwen2ForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(directory)
    model.save_pretrained(directory)
    return directory
