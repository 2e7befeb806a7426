"""The ASR head on a tiny randomly initialised Qwen2 with a byte-level BPE tokenizer, built offline.

Frames spell their transcript (each word a fixed random vector held for a few frames), so the
adapter can learn to make the frozen LM say it: the learning test fails if the loss lands on the
wrong tokens or the decoding prefix is padded or positioned wrongly. The tokenizer has Qwen2.5's
``<|vision_end|>``, the separator X-ARES puts between the audio and the transcript.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from pytest_xares.embeddings.sets import FrameSet  # noqa: E402
from pytest_xares.heads import Fold  # noqa: E402
from pytest_xares.heads import asr as asr_head  # noqa: E402
from pytest_xares.heads.asr import (  # noqa: E402
    IGNORE,
    SpeechLM,
    SpeechSamples,
    SwiGLUAdapter,
    adapter_width,
    asr_probe,
    load_language_model,
    next_labels,
    penalise_repeats,
    prompts,
    read_frames,
    separator_tokens,
    sorted_batches,
    train_adapter,
    transcribe,
    validation_score,
)
from pytest_xares.heads.train import TrainConfig, TrainLog, seeded  # noqa: E402
from pytest_xares.heads.train import _batches as epoch_batches  # noqa: E402
from pytest_xares.task import AsrTask, Unavailable, splits  # noqa: E402
from pytest_xares.task.asr import DEFAULT_SEPARATOR  # noqa: E402
from pytest_xares.testing import QWEN25_05B, tiny_language_model  # noqa: E402

# No word repeats within a transcript: the repetition penalty would only narrow the margins.
TEXTS = ["the cat sat", "a dog ran far away", "birds sing", "we like green tea today", "blue sky"]
FRAMES_PER_WORD = 3
DIM = 16
#: The tiny LM's MLP width, which the adapter takes (not 2 × its width of 32, nor 4 ×).
INTERMEDIATE = 48
# Training batches of 2 (drawn afresh every epoch) mix lengths of 6 to 15 frames, so training sees
# right padding; decoding in 3s sees left padding.
# The epoch kept is the first whose teacher-forced guesses, each up to its first eos, are best.
CONFIG = TrainConfig(epochs=200, batch_size=2, learning_rate=1e-2, seed=0)
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
    return tiny_language_model(tmp_path_factory.mktemp("tiny-qwen2"), TEXTS, intermediate_size=INTERMEDIATE)


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
    model_folder: Path


@pytest.fixture(scope="module")
def trained(tiny_lm: Path, single_thread: None) -> Trained:
    lm, tokenizer = load_language_model(str(tiny_lm), CPU)
    before = {name: value.clone() for name, value in lm.state_dict().items()}
    model, log = train_adapter(lm, tokenizer, spoken(TEXTS), spoken(TEXTS), text_of, CONFIG)
    return Trained(model, tokenizer, log, before, tiny_lm)


def samples_of(texts: list[str], tokenizer: Any, separator: list[int]) -> SpeechSamples:
    """The split of ``texts`` (spoken in lower case) with ``texts`` as its transcripts."""
    return SpeechSamples(spoken([t.lower() for t in texts]), prompts(texts, tokenizer, separator), CPU, texts)


def test_the_adapter_learns_to_make_the_lm_say_the_transcripts(trained: Trained) -> None:
    assert transcribe(trained.model, trained.tokenizer, spoken(TEXTS), batch_size=3) == TEXTS
    assert trained.log.best_valid == max(trained.log.valid_scores) > trained.log.valid_scores[0]


def test_the_epoch_kept_is_the_best_teacher_forced_wer(trained: Trained) -> None:
    # The restored weights score what the log says was best, on the criterion itself (1 - WER):
    # a selection by loss would log negated losses instead.
    samples = samples_of(TEXTS, trained.tokenizer, trained.model.separator)
    assert validation_score(trained.model, samples, trained.tokenizer, CONFIG.batch_size) == trained.log.best_valid
    assert trained.log.best_valid == 1.0 and min(trained.log.valid_scores) < 0.5


def test_teacher_forced_guesses_run_from_the_separator_to_one_past_eos(trained: Trained) -> None:
    samples = samples_of(TEXTS, trained.tokenizer, trained.model.separator)
    together, _ = samples.batch(torch.tensor([4, 3, 1]))  # 6, 15 and 12 frames
    guesses = trained.model.teacher_forced(together)
    for row, index in enumerate([4, 3, 1]):
        ids = trained.tokenizer(TEXTS[index], add_special_tokens=False)["input_ids"]
        assert len(guesses[row]) == len(ids) + 2 and guesses[row][:-1] == [*ids, trained.tokenizer.eos_token_id]
        alone, _ = samples.batch(torch.tensor([index]))
        assert trained.model.teacher_forced(alone) == [guesses[row]]  # no batch dependence


class Guesses:
    """A stand-in model whose teacher-forced guesses are given token ids, one row per sample."""

    def __init__(self, rows: dict[str, list[int]]) -> None:
        self.rows = rows

    def teacher_forced(self, batch: Any) -> list[list[int]]:
        return [self.rows[text] for text in batch.texts]


def test_validation_score_ends_each_guess_at_its_first_eos_and_is_not_clamped(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer = trained.tokenizer
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    texts = ["the cat sat", "BIRDS SING"]
    samples = samples_of(texts, tokenizer, trained.model.separator)
    # The batch carries which texts it holds, so that the stand-in answers per sample.
    monkeypatch.setattr(
        SpeechSamples,
        "batch",
        lambda self, indices: (SimpleNamespace(texts=[self.texts[i] for i in indices.tolist()]), None),
    )
    right = Guesses({"the cat sat": [*encode("the cat sat"), eos, *encode(" a")], "BIRDS SING": encode("birds sing")})
    assert validation_score(right, samples, tokenizer, 2) == 1.0  # ends at eos; case ignored
    # A guess that runs on where eos belongs is wrong (X-ARES's cut to the reference's length hid it).
    no_eos = Guesses({"the cat sat": encode("the cat sat a dog ran"), "BIRDS SING": encode("birds sing")})
    assert validation_score(no_eos, samples, tokenizer, 2) == pytest.approx(1 - 3 / 5)
    early = Guesses({"the cat sat": [*encode("the"), eos, *encode(" cat sat")], "BIRDS SING": encode("birds sing")})
    assert validation_score(early, samples, tokenizer, 2) == pytest.approx(1 - 2 / 5)  # stops too soon
    # 8 words for "birds sing": 2 substitutions and 6 insertions, 8 errors out of 5 words; not clamped.
    wrong = Guesses({"the cat sat": encode("the cat sat"), "BIRDS SING": encode("a a a a a a a a")})
    assert validation_score(wrong, samples, tokenizer, 2) == pytest.approx(1 - 8 / 5)


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
    initial = seeded(CONFIG.seed, lambda: SwiGLUAdapter(DIM, INTERMEDIATE, 32)).state_dict()
    assert all(not torch.equal(value, initial[name]) for name, value in trained.model.adapter.state_dict().items())
    trained.model.train()
    assert trained.model.adapter.training and not lm.training  # no dropout in the frozen LM
    trained.model.eval()


def test_asr_probe_is_deterministic_for_a_seed(trained: Trained, tiny_lm: Path) -> None:
    hypotheses, log = asr_probe(spoken(TEXTS), spoken(TEXTS), spoken(TEXTS[::-1]), text_of, CONFIG, str(tiny_lm), CPU)
    assert hypotheses == TEXTS[::-1]  # in test order
    assert log == trained.log


def test_the_adapter_is_x_ares_swiglu_as_wide_as_the_lms_mlp(trained: Trained) -> None:
    adapter = trained.model.adapter
    shapes = {name: tuple(p.shape) for name, p in adapter.named_parameters()}
    assert shapes == {
        "fc_1.weight": (INTERMEDIATE, DIM),
        "fc_1.bias": (INTERMEDIATE,),
        "fc_2.weight": (INTERMEDIATE, DIM),
        "fc_2.bias": (INTERMEDIATE,),
        "proj.weight": (32, INTERMEDIATE),
        "proj.bias": (32,),
    }
    x = torch.randn(3, DIM)
    expected = adapter.proj(torch.nn.functional.silu(adapter.fc_1(x)) * adapter.fc_2(x))
    assert torch.equal(adapter(x), expected)
    qwen = SimpleNamespace(
        config=SimpleNamespace(intermediate_size=QWEN25_05B["intermediate_size"]),
        get_input_embeddings=lambda: torch.nn.Embedding(1, QWEN25_05B["hidden_size"]),
    )
    assert adapter_width(qwen) == 4864  # type: ignore[arg-type]
    assert sum(p.numel() for p in SwiGLUAdapter(768, 4864, 896).parameters()) == 11_839_872


def test_training_batches_score_separator_transcript_and_eos(trained: Trained) -> None:
    tokenizer = trained.tokenizer
    separator = separator_tokens(tokenizer)
    assert separator == [tokenizer.convert_tokens_to_ids("<|vision_end|>")]
    samples = samples_of(TEXTS, tokenizer, separator)
    batch, labels = samples.batch(torch.tensor([4, 3]))  # 6 and 15 frames
    eos = tokenizer.eos_token_id
    for row, text in enumerate(["blue sky", "we like green tea today"]):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        frames = batch.frame_lengths[row]
        assert batch.tokens[row, : batch.token_lengths[row]].tolist() == separator + ids + [eos]
        scored = labels[row] != IGNORE
        assert labels[row, scored].tolist() == [*separator, *ids, eos]  # the separator too, as X-ARES
        assert scored.nonzero()[0].item() == frames  # predicted from the last frame
    assert labels.shape[1] == 15 + 1 + 5 + 1 and (labels[0, 6 + 1 + 3 :] == IGNORE).all()
    assert (
        batch.frames.dtype == torch.float32 and batch.frames.shape == (2, 15, DIM) and (batch.frames[0, 6:] == 0).all()
    )
    logits = trained.model(batch)  # one row per scored label: 1 + 2 + 1 and 1 + 5 + 1
    assert logits.shape == (4 + 7, trained.model.lm.config.vocab_size) and logits.dtype == torch.float32
    expected = [*separator, *labels[0, 7:10].tolist(), *separator, *labels[1, 16:22].tolist()]
    assert next_labels(labels).tolist() == expected


def test_training_batches_are_a_fresh_shuffle_each_epoch_and_the_rest_goes_by_length() -> None:
    lengths = [5, 1, 4, 2, 3, 6, 1]
    split = FrameSet(
        np.zeros((sum(lengths), 2), np.float16),
        np.zeros(7, np.int64),
        np.array(lengths),
        list("abcdefg"),
        [{}] * 7,
        0.04,
    )
    samples = SpeechSamples(split, [[0]] * 7, CPU)
    order = torch.Generator().manual_seed(1)
    epochs = [[tuple(b.tolist()) for b in epoch_batches(samples, order, 2)] for _ in range(4)]
    assert all(sorted(i for b in epoch for i in b) == list(range(7)) for epoch in epochs)
    # As X-ARES: batches are not made of clips of like lengths, and are drawn again every epoch.
    assert len({frozenset(frozenset(b) for b in epoch) for epoch in epochs}) == 4
    assert epochs == [
        [tuple(b.tolist()) for b in torch.randperm(7, generator=generator).split(2)]
        for generator in [torch.Generator().manual_seed(1)]
        for _ in range(4)
    ]
    assert [tuple(lengths[i] for i in b.tolist()) for b in sorted_batches(split, 2)] == [(1, 1), (2, 3), (4, 5), (6,)]


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    seen = torch.tensor([[True, True, False, False]])
    assert penalise_repeats(logits, seen, 2.0).tolist() == [[1.0, -4.0, 1.0, -1.0]]


def test_the_separator_is_the_named_token_else_bos_else_a_newline(trained: Trained) -> None:
    tokenizer = trained.tokenizer
    assert DEFAULT_SEPARATOR == AsrTask.__dataclass_fields__["separator"].default == "<|vision_end|>"
    assert separator_tokens(tokenizer, "<|vision_end|>") == [tokenizer.get_vocab()["<|vision_end|>"]]
    assert separator_tokens(tokenizer, "<|endoftext|>") == [tokenizer.eos_token_id]
    assert tokenizer.bos_token_id is None
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    assert separator_tokens(tokenizer, "<|im_start|>") == newline != []  # not in this vocabulary

    class WithBos:
        bos_token_id = 7

        def get_vocab(self) -> dict[str, int]:
            return {"<|endoftext|>": 0}

    assert separator_tokens(WithBos(), "<|vision_end|>") == [7]  # type: ignore[arg-type]


def test_a_language_model_without_the_separator_gets_the_fallback(trained: Trained) -> None:
    lm, tokenizer = load_language_model(str(trained.model_folder), CPU)
    model, _ = train_adapter(
        lm, tokenizer, spoken(TEXTS[:2]), spoken(TEXTS[:2]), text_of, dataclasses.replace(CONFIG, epochs=1), "<|none|>"
    )
    assert model.separator == tokenizer("\n", add_special_tokens=False)["input_ids"]


def test_train_and_score_trains_on_raw_case_and_scores_lower_cased(
    tiny_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def probe(train: FrameSet, valid: FrameSet, test: FrameSet, transcript: Any, *args: Any, **kwargs: Any) -> Any:
        seen.update(transcripts=[transcript(m) for m in train.metadata], separator=kwargs["separator"])
        return ["the cat sat", "a dog ran"], TrainLog(0, 1.0, (1.0,))

    monkeypatch.setattr(asr_head, "asr_probe", probe)
    task = AsrTask(name="asr", formal_name="ASR", splits=splits("a", "b", "c"), weight=1, label="text", separator="|")
    split = spoken(["the cat sat", "a dog ran"])
    upper = dataclasses.replace(split, metadata=[{"text": "THE CAT SAT"}, {"text": "A Dog ran"}])
    fold = Fold(task, upper, upper, upper, CONFIG, CPU, {"lm": str(tiny_lm)})
    outcome, details = asr_head.train_and_score(fold)
    assert seen == {"transcripts": ["THE CAT SAT", "A Dog ran"], "separator": "|"}
    assert outcome.score == 1.0 and details["examples"][0] == ("THE CAT SAT", "the cat sat")


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
