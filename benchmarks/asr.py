"""What the ASR task costs: the adapter's training steps and greedy decoding under a language model
of Qwen2.5-0.5B's shape (randomly initialised: no download), on this machine's device.

    python benchmarks/asr.py [--device cuda] [--frames 320] [--dim 768] [--small]

Times one epoch of the adapter on 8 utterances (2 steps of the task's batch of 4, plus the
teacher-forced validation of 4, about one step's cost) and the decoding of 4 utterances, and
extrapolates to LibriSpeech-100h: 28 539 training utterances of 12.7 s on average (``--frames`` is
that at the encoder's hop: 320 at 40 ms), 10 epochs, 2 620 test utterances of about 20 words (30
tokens). The adapter is X-ARES's (as wide inside as the LM's MLP); on CUDA the LM runs under
float16 autocast, elsewhere in float32.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import machine

TRAIN_UTTERANCES, EPOCHS, TEST_UTTERANCES, TEST_TOKENS = 28_539, 10, 2_620, 30


def frame_set(count: int, frames: int, dim: int, seed: int):  # -> FrameSet
    from pytest_xares.embeddings.sets import FrameSet

    rng = np.random.default_rng(seed)
    lengths = rng.integers(int(0.7 * frames), int(1.3 * frames), count)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    data = rng.standard_normal((int(lengths.sum()), dim)).astype(np.float16)
    # upper case, as LibriSpeech's transcripts are and as the head trains on them
    text = "HE HOPED THERE WOULD BE STEW FOR DINNER TURNIPS AND CARROTS AND BRUISED POTATOES"
    return FrameSet(data, starts, lengths, [f"u{i}" for i in range(count)], [{"trans": text}] * count, 0.04)


def measure_asr(device: torch.device, frames: int = 320, dim: int = 768, small: bool = False) -> dict[str, float]:
    """One epoch of the adapter on 8 utterances and the decoding of 4, with the language model built
    (randomly) and its sizes; and their extrapolation to LibriSpeech-100h, in seconds and hours."""
    from pytest_xares.heads.asr import load_language_model, train_adapter, transcribe
    from pytest_xares.heads.train import TrainConfig
    from pytest_xares.testing import QWEN25_05B, tiny_language_model

    with tempfile.TemporaryDirectory() as folder:
        texts = ["HE HOPED THERE WOULD BE STEW FOR DINNER TURNIPS AND CARROTS AND BRUISED POTATOES"]
        tiny_language_model(Path(folder), texts, **({} if small else QWEN25_05B))
        lm, tokenizer = load_language_model(folder, device)
    train, valid = frame_set(8, frames, dim, 0), frame_set(4, frames, dim, 1)
    config = TrainConfig(epochs=1, batch_size=4, learning_rate=1e-3, seed=42)

    started = time.perf_counter()
    model, _ = train_adapter(lm, tokenizer, train, valid, lambda m: m["trans"], config)
    if device.type == "cuda":
        torch.cuda.synchronize()
    epoch = time.perf_counter() - started
    step = epoch / 3  # 2 training steps and a validation pass of about one step's cost

    started = time.perf_counter()
    transcribe(model, tokenizer, valid, 4, max_new_tokens=TEST_TOKENS, repetition_penalty=1.1)
    decode = time.perf_counter() - started  # a random model may stop early: an optimistic figure
    full_epoch = step * TRAIN_UTTERANCES / 4
    return {
        "lm_parameters": sum(p.numel() for p in lm.parameters()),
        "adapter_parameters": sum(p.numel() for p in model.adapter.parameters()),
        "step_s": step,
        "small_epoch_s": epoch,
        "decode_s": decode,
        "full_epoch_s": full_epoch,
        "train_h": full_epoch * EPOCHS / 3600,
        "test_h": decode * (TEST_UTTERANCES / 4) / 3600,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=320)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--small", action="store_true", help="a two-layer model instead of Qwen2.5-0.5B's shape")
    args = parser.parse_args()

    device = torch.device(args.device)
    print(machine(), f"device {device}")
    m = measure_asr(device, args.frames, args.dim, args.small)
    print(f"language model: {m['lm_parameters'] / 1e6:.0f} M parameters")
    print(f"adapter: {m['adapter_parameters'] / 1e6:.1f} M parameters")
    print(f"adapter training step (batch of 4, about {args.frames} frames each): {m['step_s']:.2f} s")
    print(f"decoding a batch of 4 (up to {TEST_TOKENS} tokens): {m['decode_s']:.2f} s")
    print(
        f"LibriSpeech-100h extrapolated: an epoch {m['full_epoch_s'] / 3600:.1f} h, training {m['train_h']:.1f} h "
        f"({EPOCHS} epochs), test decoding {m['test_h']:.2f} h"
    )


if __name__ == "__main__":
    main()
