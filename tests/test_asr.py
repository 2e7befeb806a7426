"""The ASR head on a tiny randomly initialised Qwen2 with a byte-level BPE tokenizer, built offline.

Frames spell their transcript (each word a fixed random vector held for a few frames), so the
adapter can learn to make the frozen LM say it: the learning test fails if the loss lands on the
wrong tokens or the decoding prefix is padded or positioned wrongly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from pytest_xares.embeddings.sets import FrameSet  # noqa: E402
from pytest_xares.heads.asr import (  # noqa: E402
    ADAPTER_WIDTH,
    IGNORE,
    SpeechLM,
    SpeechSamples,
    SwiGLUAdapter,
    asr_probe,
    load_language_model,
    penalise_repeats,
    prompts,
    read_frames,
    separator_tokens,
    train_adapter,
    transcribe,
)
from pytest_xares.heads.train import TrainConfig, TrainLog, seeded  # noqa: E402
from pytest_xares.task import Unavailable  # noqa: E402
from pytest_xares.testing import tiny_language_model  # noqa: E402

# No word repeats within a transcript: the repetition penalty would only narrow the margins.
TEXTS = ["the cat sat", "a dog ran far away", "birds sing", "we like green tea today", "blue sky"]
FRAMES_PER_WORD = 3
DIM = 16
# Batches of 2 mix lengths 9 and 15 frames: training sees right padding, decoding in 3s left padding.
CONFIG = TrainConfig(epochs=100, batch_size=2, learning_rate=2e-2, seed=0)
CPU = torch.device("cpu")


def text_of(metadata: Any) -> str:
    return metadata["text"]


def spoken(texts: list[str], seed: int = 0) -> FrameSet:
    """A split whose frames spell its transcripts: one fixed random vector per word."""
    rng = np.random.default_rng(seed)
    words = sorted({w for t in TEXTS for w in t.split()})
    vectors = dict(zip(words, rng.standard_normal((len(words), DIM))))
    clips = [np.repeat(np.stack([vectors[w] for w in t.split()]), FRAMES_PER_WORD, axis=0) for t in texts]
    lengths = np.array([len(c) for c in clips], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    frames = np.concatenate(clips).astype(np.float16)
    return FrameSet(
        frames, starts, lengths, [f"clip{i}" for i in range(len(texts))], [{"text": t} for t in texts], 0.04
    )


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer Qwen2 with a byte-level BPE tokenizer without bos (as Qwen2.5's),
    whose merges make each word of the transcripts one token."""
    return tiny_language_model(tmp_path_factory.mktemp("tiny-qwen2"), TEXTS)


@pytest.fixture(scope="module")
def single_thread() -> Iterator[None]:
    """The ASR head trains on the process's threads; a model this small only waits on the other
    thread at every operation (ten times slower on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass
class Trained:
    model: SpeechLM
    tokenizer: Any
    log: TrainLog
    lm_before: dict[str, torch.Tensor]


@pytest.fixture(scope="module")
def trained(tiny_lm: Path, single_thread: None) -> Trained:
    lm, tokenizer = load_language_model(str(tiny_lm), CPU)
    before = {name: value.clone() for name, value in lm.state_dict().items()}
    model, log = train_adapter(lm, tokenizer, spoken(TEXTS), spoken(TEXTS), text_of, CONFIG)
    return Trained(model, tokenizer, log, before)


def test_the_adapter_learns_to_make_the_lm_say_the_transcripts(trained: Trained) -> None:
    assert transcribe(trained.model, trained.tokenizer, spoken(TEXTS), batch_size=3) == TEXTS
    assert trained.log.best_valid == max(trained.log.valid_scores) > trained.log.valid_scores[0]
    assert all(score < 0 for score in trained.log.valid_scores)  # negated losses


def test_batched_decoding_gives_what_each_utterance_gets_alone(trained: Trained) -> None:
    # Reordered so that every batch of 2 mixes lengths, each padded on the left.
    texts = [TEXTS[i] for i in (2, 1, 4, 3, 0)]
    alone = transcribe(trained.model, trained.tokenizer, spoken(texts), batch_size=1)
    assert transcribe(trained.model, trained.tokenizer, spoken(texts), batch_size=5) == alone == texts


def test_decoding_stops_at_eos_and_at_max_new_tokens(trained: Trained) -> None:
    frames, lengths = read_frames(spoken(TEXTS), list(range(len(TEXTS))))
    tokens = trained.model.greedy(frames, lengths, max_new_tokens=50, repetition_penalty=1.1)
    expected = [trained.tokenizer(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
    assert tokens == expected  # eos ends each row and is not returned
    assert trained.model.greedy(frames, lengths, max_new_tokens=2, repetition_penalty=1.1) == [
        ids[:2] for ids in expected
    ]
    short = transcribe(trained.model, trained.tokenizer, spoken(TEXTS), batch_size=3, max_new_tokens=2)
    assert short == [" ".join(t.split()[:2]) for t in TEXTS]
    assert transcribe(trained.model, trained.tokenizer, spoken(TEXTS), batch_size=3, max_new_tokens=0) == [""] * len(
        TEXTS
    )


def test_only_the_adapter_trains(trained: Trained) -> None:
    lm = trained.model.lm
    assert not lm.training and not any(p.requires_grad for p in lm.parameters())
    assert all(torch.equal(value, trained.lm_before[name]) for name, value in lm.state_dict().items())
    trainable = {name for name, p in trained.model.named_parameters() if p.requires_grad}
    assert trainable == {f"adapter.{name}" for name, _ in trained.model.adapter.named_parameters()}
    initial = seeded(CONFIG.seed, lambda: SwiGLUAdapter(DIM, ADAPTER_WIDTH * 32, 32)).state_dict()
    assert all(not torch.equal(value, initial[name]) for name, value in trained.model.adapter.state_dict().items())
    trained.model.train()
    assert trained.model.adapter.training and not lm.training  # no dropout in the frozen LM
    trained.model.eval()


def test_asr_probe_is_deterministic_for_a_seed(trained: Trained, tiny_lm: Path) -> None:
    hypotheses, log = asr_probe(spoken(TEXTS), spoken(TEXTS), spoken(TEXTS[::-1]), text_of, CONFIG, str(tiny_lm), CPU)
    assert hypotheses == TEXTS[::-1]  # in test order
    assert log == trained.log


def test_training_batches_score_only_transcript_and_eos(trained: Trained) -> None:
    tokenizer = trained.tokenizer
    separator = separator_tokens(tokenizer)
    split = spoken(TEXTS)
    samples = SpeechSamples(split, prompts(split, text_of, tokenizer, separator), len(separator), CPU)
    batch, labels = samples.batch(torch.tensor([4, 3]))  # 6 and 15 frames
    eos = tokenizer.eos_token_id
    for row, text in enumerate(["blue sky", "we like green tea today"]):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        frames = batch.frame_lengths[row]
        assert batch.tokens[row, : batch.token_lengths[row]].tolist() == separator + ids + [eos]
        scored = labels[row] != IGNORE
        assert labels[row, scored].tolist() == [*ids, eos]
        assert scored.nonzero()[0].item() == frames + len(separator)  # not the frames, not the separator
    assert labels.shape[1] == 15 + len(separator) + 5 + 1 and (labels[0, 6 + len(separator) + 3 :] == IGNORE).all()
    assert (
        batch.frames.dtype == torch.float32 and batch.frames.shape == (2, 15, DIM) and (batch.frames[0, 6:] == 0).all()
    )


def test_length_sorted_batches_in_a_drawn_order() -> None:
    lengths = [5, 1, 4, 2, 3, 6, 1]
    split = FrameSet(
        np.zeros((sum(lengths), 2), np.float16),
        np.zeros(7, np.int64),
        np.array(lengths),
        list("abcdefg"),
        [{}] * 7,
        0.04,
    )
    samples = SpeechSamples(split, [[0]] * 7, 1, CPU)
    first = samples.batches(torch.Generator().manual_seed(1), 2)
    assert sorted(i for b in first for i in b.tolist()) == list(range(7))
    assert sorted(tuple(lengths[i] for i in b.tolist()) for b in first) == [(1, 1), (2, 3), (4, 5), (6,)]
    again = samples.batches(torch.Generator().manual_seed(1), 2)
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    orders = {
        tuple(tuple(b.tolist()) for b in samples.batches(torch.Generator().manual_seed(seed), 2)) for seed in range(8)
    }
    assert len(orders) > 1


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    assert penalise_repeats(logits, seen, 2.0).tolist() == [[1.0, -4.0, 1.0, -1.0]]


def test_separator_is_bos_when_the_tokenizer_has_one_else_a_newline(trained: Trained) -> None:
    tokenizer = trained.tokenizer
    assert tokenizer.bos_token_id is None
    assert separator_tokens(tokenizer) == tokenizer("\n", add_special_tokens=False)["input_ids"] != []

    class WithBos:
        bos_token_id = 7

    assert separator_tokens(WithBos()) == [7]  # type: ignore[arg-type]


def test_a_missing_model_is_unavailable_with_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(Unavailable, match="no-such-model") as raised:
        load_language_model(str(missing), CPU)
    message = str(raised.value)
    assert "hf download Qwen/Qwen2.5-0.5B" in message and "--xares-asr-lm" in message
    missing.mkdir()
    with pytest.raises(Unavailable, match="does not hold a causal LM"):
        load_language_model(str(missing), CPU)


def test_without_transformers_the_task_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(Unavailable, match=r"pip install 'pytest-xares\[asr\]'"):
        load_language_model("Qwen/Qwen2.5-0.5B", CPU)
