"""The ASR head (X-ARES "LibriSpeech-100h"): a trainable SwiGLU adapter under a frozen causal LM.

As X-ARES 0.1.3 does it: every encoder frame is mapped by the adapter, ``proj(silu(fc_1 x) *
fc_2 x)`` with biases, as wide inside as the LM's own MLP (``config.intermediate_size``), to one
input embedding of the LM, which reads ``[adapted frames] [separator] [transcript] [eos]``. The
adapter alone is trained (``train.fit``), with cross-entropy on the separator (predicted from the
last frame), the transcript's tokens and eos, on the transcripts as they are (LibriSpeech's are
upper case; the WER lower-cases both sides). The epoch kept is the one of the best teacher-forced
validation score: 1 − WER of the argmax next tokens from the separator through eos (a cheap
stand-in for decoding), each guess ending at its first eos. Training batches are a fresh shuffle every epoch. Test transcripts come from
greedy decoding with repetition penalty 1.1, at most 200 new tokens, stopping at eos. On CUDA the
LM runs under float16 autocast (its weights float32, the adapter outside it); elsewhere all is
float32. The separator is the task's ``separator``, X-ARES's ``<|vision_end|>`` by default (see
``separator_tokens`` for a tokenizer without it).

Where this departs from X-ARES, and why:

- Padding: X-ARES pads every clip's frames to the batch's longest and puts the text after the
  padding, so a transcript token's position depends on the clip's batch neighbours. Here the text
  follows each clip's own frames: for training every row is ``frames + prompt`` right-padded
  (positions count from 0 at the first frame, as they do when decoding); for decoding the prefix
  ``frames + separator`` is left-padded, with position ids counted over real tokens only, so all
  rows of a batch emit their next token from the same column. A transcript does not depend on
  its batch.
- Teacher-forced predictions end at the row's eos position; X-ARES's went on over the batch's
  text padding, another batch dependence.
- A teacher-forced guess ends where it first guesses eos; X-ARES cut each one to its reference's
  length in characters, which cannot see whether eos comes where it should: a checkpoint that
  never stops scored as well as one that does, and was kept although its decoding then runs on.
- The validation score is 1 − WER, not max(0, 1 − WER): X-ARES's clamp makes every epoch with a
  WER of 1 or more tie, and the first of them is kept.
- Memory: logits are computed only where a token is scored or predicted (the LM's vocabulary is
  150k wide), frames are read from the (possibly memory-mapped) ``FrameSet`` a batch at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from pytest_xares.embeddings.sets import FrameSet
from pytest_xares.heads import metrics
from pytest_xares.heads.language_model import check_language_model, load_language_model
from pytest_xares.heads.layers import mixed
from pytest_xares.heads.linear import logged
from pytest_xares.heads.train import TrainConfig, TrainLog, fit, seeded
from pytest_xares.task.asr import DEFAULT_SEPARATOR

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from pytest_xares.heads import Fold
    from pytest_xares.task import AsrTask

#: The adapter reads every frame's embedding (stored float16, memory-mapped).
FRAMES = True
#: Settings that change the score, by their name in the result key: ``--xares-asr-lm``.
SETTINGS = {"lm": "asr_lm"}


#: ``cross_entropy``'s ignore index: the label of audio frames and padding.
IGNORE = -100


class SwiGLUAdapter(torch.nn.Module):
    """``proj(silu(fc_1 x) * fc_2 x)``, every layer with a bias: one encoder frame (``dim``) to one
    LM input embedding (``out``). X-ARES makes ``hidden`` the LM's ``intermediate_size`` (4864 for
    Qwen2.5-0.5B: 11.8 M parameters on 768-dim frames)."""

    def __init__(self, dim: int, hidden: int, out: int) -> None:
        super().__init__()
        self.fc_1 = torch.nn.Linear(dim, hidden)
        self.fc_2 = torch.nn.Linear(dim, hidden)
        self.proj = torch.nn.Linear(hidden, out)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.nn.functional.silu(self.fc_1(frames)) * self.fc_2(frames))


@dataclass(frozen=True)
class SpeechBatch:
    """One batch: row ``i`` is ``frames[i, :frame_lengths[i]]`` then ``tokens[i, :token_lengths[i]]``
    (separator, transcript, eos), and ``labels[i, p]`` is the token at position ``p`` of that row
    where it is scored (every token of the prompt), ``IGNORE`` elsewhere."""

    frames: torch.Tensor  # [B, T, D] float32, zero-padded
    frame_lengths: list[int]
    tokens: torch.Tensor  # [B, M] int64, padded with eos
    token_lengths: list[int]
    labels: torch.Tensor  # [B, L] int64, L = max(frame_lengths[i] + token_lengths[i])


class SpeechLM(torch.nn.Module):
    """The adapter under the frozen LM. ``forward(batch)`` gives the logits of every scored next
    token (``next_labels(batch.labels)``), float32 ``[scored tokens, vocabulary]``."""

    def __init__(self, adapter: torch.nn.Module, lm: PreTrainedModel, separator: Sequence[int], eos: int) -> None:
        super().__init__()
        self.adapter = adapter
        self.lm = lm.eval().requires_grad_(False)
        self.separator = list(separator)
        self.eos = eos

    def train(self, mode: bool = True) -> SpeechLM:
        super().train(mode)
        self.lm.eval()  # frozen, so no dropout even while the adapter trains
        return self

    @property
    def device(self) -> torch.device:
        return self.lm.get_input_embeddings().weight.device

    def forward(self, batch: SpeechBatch) -> torch.Tensor:
        return self._logits(batch, batch.labels[:, 1:] != IGNORE)

    @torch.inference_mode()
    def teacher_forced(self, batch: SpeechBatch) -> list[list[int]]:
        """Each row's argmax next tokens, the prompt given, at its positions from the separator's
        last token through eos: one guess for every transcript token and eos, and one past eos."""
        at = torch.zeros(batch.labels.shape, dtype=torch.bool, device=self.device)
        for row, (frames, tokens) in enumerate(zip(batch.frame_lengths, batch.token_lengths)):
            at[row, frames + len(self.separator) - 1 : frames + tokens] = True
        guesses = self._logits(batch, at).argmax(-1).tolist()
        counts = at.sum(1).tolist()
        starts = np.cumsum([0, *counts]).tolist()
        return [guesses[begin : begin + count] for begin, count in zip(starts, counts)]

    def _logits(self, batch: SpeechBatch, at: torch.Tensor) -> torch.Tensor:
        """float32 logits ``[at.sum(), vocabulary]`` of the next token at the positions ``at``
        (``[B, ≤ L]``, row-major order) of the batch's rows."""
        embeds, mask = self._training_inputs(batch)
        with self._precision():
            hidden = self.lm.base_model(inputs_embeds=embeds, attention_mask=mask, use_cache=False).last_hidden_state
            return self.lm.get_output_embeddings()(hidden[:, : at.shape[1]][at]).float()

    @torch.inference_mode()
    def greedy(
        self, frames: torch.Tensor, frame_lengths: list[int], max_new_tokens: int, repetition_penalty: float
    ) -> list[list[int]]:
        """Greedy continuations (without eos) of each row's frames and separator, at most
        ``max_new_tokens`` tokens each, decoded together with a KV cache. The repetition penalty
        applies to the tokens generated so far (the prefix has no tokens but the separator: so
        does transformers' ``generate`` given ``inputs_embeds``)."""
        rows = torch.arange(len(frame_lengths), device=self.device)
        done = torch.zeros(len(rows), dtype=torch.bool, device=self.device)
        generated: list[torch.Tensor] = []
        seen: torch.Tensor | None = None
        cache, cache_name = None, _cache_argument(self.lm.base_model)
        embeds, mask = self._prefix(frames, frame_lengths)
        with self._precision():
            positions = (mask.cumsum(1) - 1).clamp(min=0)
            next_position = mask.sum(1, keepdim=True)
            for _ in range(max_new_tokens):
                output = self.lm.base_model(
                    inputs_embeds=embeds,
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    **{cache_name: cache},
                )
                cache = getattr(output, cache_name)
                logits = self.lm.get_output_embeddings()(output.last_hidden_state[:, -1]).float()
                if seen is None:
                    seen = torch.zeros_like(logits, dtype=torch.bool)
                token = torch.where(done, self.eos, penalise_repeats(logits, seen, repetition_penalty).argmax(-1))
                generated.append(token)
                done |= token == self.eos
                if bool(done.all()):
                    break
                seen[rows, token] = True
                embeds = self.lm.get_input_embeddings()(token)[:, None]
                mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
                positions, next_position = next_position, next_position + 1
        tokens = torch.stack(generated, dim=1).tolist() if generated else [[] for _ in frame_lengths]
        return [row[: row.index(self.eos)] if self.eos in row else row for row in tokens]

    def _precision(self) -> contextlib.AbstractContextManager[Any]:
        """X-ARES's autocast: float16 on CUDA (without loss scaling, as there), nothing elsewhere."""
        cuda = self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.float16) if cuda else contextlib.nullcontext()

    def _audio(self, frames: torch.Tensor) -> torch.Tensor:
        embeddings = self.lm.get_input_embeddings()
        return self.adapter(frames).to(embeddings.weight.dtype)

    def _training_inputs(self, batch: SpeechBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``[frames, tokens]`` embeddings and their attention mask."""
        audio = self._audio(batch.frames)
        text = self.lm.get_input_embeddings()(batch.tokens)
        embeds = audio.new_zeros(len(batch.frame_lengths), batch.labels.shape[1], audio.shape[-1])
        mask = torch.zeros(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        for row, (frames, tokens) in enumerate(zip(batch.frame_lengths, batch.token_lengths)):
            embeds[row, :frames] = audio[row, :frames]
            embeds[row, frames : frames + tokens] = text[row, :tokens]
            mask[row, : frames + tokens] = 1
        return embeds, mask

    def _prefix(self, frames: torch.Tensor, frame_lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ``[frames, separator]`` embeddings and their attention mask."""
        audio = self._audio(frames)
        separator = self.lm.get_input_embeddings()(torch.tensor(self.separator, device=self.device)).to(audio.dtype)
        width = max(frame_lengths, default=0) + len(self.separator)
        embeds = audio.new_zeros(len(frame_lengths), width, audio.shape[-1])
        mask = torch.zeros(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        for row, length in enumerate(frame_lengths):
            start = width - length - len(self.separator)
            embeds[row, start : width - len(self.separator)] = audio[row, :length]
            embeds[row, width - len(self.separator) :] = separator
            mask[row, start:] = 1
        return embeds, mask


def _cache_argument(model: torch.nn.Module) -> str:
    """The name of the KV cache in the model's forward and output: ``cache`` from transformers 5.x
    (where ``past_key_values`` is deprecated), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def penalise_repeats(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's repetition penalty: the logits of tokens already generated (``seen``, same shape)
    divided by ``penalty`` where positive and multiplied by it where negative."""
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def next_labels(labels: torch.Tensor) -> torch.Tensor:
    """The scored tokens of a batch in the order ``SpeechLM.forward`` gives their logits: the
    label of position ``p + 1`` is predicted at position ``p``."""
    following = labels[:, 1:]
    return following[following != IGNORE]


def _loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, next_labels(labels))


class SpeechSamples:
    """A split's frames with each sample's prompt (separator, transcript, eos) and transcript, read
    one batch at a time. Training batches are ``fit``'s shuffle, drawn afresh every epoch, as
    X-ARES's (which does not sort LibriSpeech by length); validation and decoding go through the
    split in length-sorted batches (``sorted_batches``), which their results do not depend on."""

    def __init__(
        self, frames: FrameSet, prompts: list[list[int]], device: torch.device, texts: Sequence[str] = ()
    ) -> None:
        self.frames = frames
        self.prompts = prompts
        self.device = device
        self.texts = list(texts)

    def __len__(self) -> int:
        return len(self.frames)

    def batch(self, indices: torch.Tensor) -> tuple[SpeechBatch, torch.Tensor]:
        """The samples at ``indices`` as a ``SpeechBatch`` on the device, and its labels."""
        chosen = indices.tolist()
        frames, frame_lengths = read_frames(self.frames, chosen)
        prompts = [self.prompts[i] for i in chosen]
        token_lengths = [len(p) for p in prompts]
        tokens = torch.full((len(chosen), max(token_lengths)), prompts[0][-1], dtype=torch.long)
        labels = torch.full(
            (len(chosen), max(f + t for f, t in zip(frame_lengths, token_lengths))), IGNORE, dtype=torch.long
        )
        for row, (prompt, start) in enumerate(zip(prompts, frame_lengths)):
            tokens[row, : len(prompt)] = torch.tensor(prompt)
            labels[row, start : start + len(prompt)] = torch.tensor(prompt)  # the separator too, as X-ARES
        labels = labels.to(self.device)
        return SpeechBatch(frames.to(self.device), frame_lengths, tokens.to(self.device), token_lengths, labels), labels


def sorted_batches(frames: FrameSet, batch_size: int) -> list[torch.Tensor]:
    """The split's indices sorted by frame count (stably) and cut into batches."""
    order = torch.from_numpy(np.argsort(np.asarray(frames.lengths), kind="stable"))
    return list(order.split(batch_size))


def read_frames(frames: FrameSet, indices: list[int]) -> tuple[torch.Tensor, list[int]]:
    """The frames of ``indices`` as one zero-padded float32 ``[B, T, D]`` tensor, and their counts;
    only these samples are read, so a memory-mapped split stays on disk."""
    lengths = [int(frames.lengths[i]) for i in indices]
    out = np.zeros((len(indices), max(lengths, default=0), frames.frames.shape[1]), dtype=np.float32)
    for row, index in enumerate(indices):
        out[row, : lengths[row]] = frames.sample(index)
    return torch.from_numpy(out), lengths


def separator_tokens(tokenizer: PreTrainedTokenizerBase, separator: str = DEFAULT_SEPARATOR) -> list[int]:
    """The tokens between the audio and the transcript: ``separator`` where it is one token of the
    tokenizer's vocabulary (X-ARES's ``<|vision_end|>`` is one of Qwen2.5's); else, for another LM,
    its bos, else the tokens of a newline (which no transcript holds), else eos."""
    vocabulary = tokenizer.get_vocab()
    if separator in vocabulary:
        return [vocabulary[separator]]
    if tokenizer.bos_token_id is not None:
        return [tokenizer.bos_token_id]
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    return list(newline) if newline else [tokenizer.eos_token_id]


def prompts(texts: Sequence[str], tokenizer: PreTrainedTokenizerBase, separator: list[int]) -> list[list[int]]:
    """Each transcript's ``separator + transcript tokens + eos``."""
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []
    return [separator + list(ids) + [tokenizer.eos_token_id] for ids in encoded]


def validation_score(
    model: SpeechLM, samples: SpeechSamples, tokenizer: PreTrainedTokenizerBase, batch_size: int
) -> float:
    """X-ARES's checkpoint criterion, aware of eos: 1 − WER (lower-cased, over the split) of the
    teacher-forced argmax transcripts (``SpeechLM.teacher_forced``), each up to its first eos and
    decoded without special tokens; not clamped at 0."""
    eos = tokenizer.eos_token_id
    hypotheses = [""] * len(samples)
    for indices in sorted_batches(samples.frames, batch_size):
        batch, _ = samples.batch(indices)
        for index, ids in zip(indices.tolist(), model.teacher_forced(batch)):
            ended = ids[: ids.index(eos)] if eos in ids else ids
            hypotheses[index] = cast(str, tokenizer.decode(ended, skip_special_tokens=True))
    return 1.0 - metrics.wer_outcome(hypotheses, samples.texts).extra["wer"]


def adapter_width(lm: PreTrainedModel) -> int:
    """The adapter's inner width: the LM's ``intermediate_size`` (4 × its width if it has none)."""
    width = cast(torch.nn.Embedding, lm.get_input_embeddings()).embedding_dim  # transformers types it as a Module
    return int(getattr(lm.config, "intermediate_size", None) or 4 * width)


def train_adapter(
    lm: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    train: FrameSet,
    valid: FrameSet,
    transcript: Callable[[Any], str],
    config: TrainConfig,
    separator: str = DEFAULT_SEPARATOR,
) -> tuple[SpeechLM, TrainLog]:
    """A seeded SwiGLU adapter trained under the frozen ``lm``, holding the weights of its epoch of
    the best ``validation_score``. Runs on the process's threads: an LM's forward is real arithmetic."""
    config = dataclasses.replace(config, single_thread=False)
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no eos token to end a transcript")
    tokens = separator_tokens(tokenizer, separator)
    width = cast(torch.nn.Embedding, lm.get_input_embeddings()).embedding_dim
    inner = adapter_width(lm)
    adapter = seeded(
        config.seed,
        lambda: mixed(train.layer_count, train.frames.shape[1], lambda dim: SwiGLUAdapter(dim, inner, width)),
    )
    model = SpeechLM(adapter, lm, tokens, tokenizer.eos_token_id)
    adapter.to(model.device)
    samples = {}
    for name, split in (("train", train), ("valid", valid)):
        texts = [transcript(metadata) for metadata in split.metadata]
        samples[name] = SpeechSamples(split, prompts(texts, tokenizer, tokens), model.device, texts)
    validate = lambda _: validation_score(model, samples["valid"], tokenizer, config.batch_size)
    return model, fit(model, _loss, samples["train"], validate, config)


def transcribe(
    model: SpeechLM,
    tokenizer: PreTrainedTokenizerBase,
    frames: FrameSet,
    batch_size: int,
    max_new_tokens: int = 200,
    repetition_penalty: float = 1.1,
) -> list[str]:
    """Greedy transcripts of every sample, in the split's order (decoded in length-sorted batches)."""
    model.eval()
    hypotheses = [""] * len(frames)
    for indices in sorted_batches(frames, batch_size):
        features, lengths = read_frames(frames, indices.tolist())
        tokens = model.greedy(features.to(model.device), lengths, max_new_tokens, repetition_penalty)
        for index, ids in zip(indices.tolist(), tokens):
            hypotheses[index] = cast(str, tokenizer.decode(ids, skip_special_tokens=True)).strip()  # one sequence
    return hypotheses


def asr_probe(
    train: FrameSet,
    valid: FrameSet,
    test: FrameSet,
    transcript: Callable[[Any], str],
    config: TrainConfig,
    lm: str,
    device: torch.device,
    max_new_tokens: int = 200,
    repetition_penalty: float = 1.1,
    offline: bool = False,
    separator: str = DEFAULT_SEPARATOR,
) -> tuple[list[str], TrainLog]:
    """Test hypotheses, in test order, of a SwiGLU adapter trained under the frozen causal LM
    ``lm`` on ``transcript(metadata)`` of the training samples, and the training log.

    Validation scores are teacher-forced 1 − WER; see the module's docstring for the rest.
    Raises ``Unavailable`` when the LM cannot be had."""
    language_model, tokenizer = load_language_model(lm, device, offline)
    model, log = train_adapter(language_model, tokenizer, train, valid, transcript, config, separator)
    return transcribe(model, tokenizer, test, config.batch_size, max_new_tokens, repetition_penalty), log


def check(task: AsrTask, options: dict[str, Any], offline: bool) -> None:
    """The language model and its tokenizer load, before any audio is encoded."""
    check_language_model(options.get("lm") or task.lm, offline)


def train_and_score(fold: Fold) -> tuple[metrics.Outcome, dict[str, Any]]:
    task: AsrTask = fold.task
    train, valid, test = fold.train, fold.valid, fold.test
    assert isinstance(train, FrameSet) and isinstance(valid, FrameSet) and isinstance(test, FrameSet)  # FRAMES
    # Trained on the transcripts as they are (upper case in LibriSpeech), as X-ARES; the WER
    # lower-cases hypotheses and references.
    transcript = task.target
    hypotheses, log = asr_probe(
        train,
        valid,
        test,
        transcript,
        fold.config,
        fold.options.get("lm") or task.lm,
        fold.device,
        max_new_tokens=task.max_new_tokens,
        offline=fold.offline,
        separator=task.separator,
    )
    references = [transcript(m) for m in test.metadata]
    return metrics.wer_outcome(hypotheses, references), {
        **logged(log),
        "examples": list(zip(references, hypotheses))[:3],
    }
