"""Audio–text retrieval (Clotho): two towers trained contrastively, scored by recall@1.

The head is X-ARES 0.1.3's. Every clip has several captions (five in Clotho); training draws
(clip, caption) pairs, one per caption. The audio tower maps a clip's pooled embedding through
LayerNorm → Linear → GELU → Linear; the text tower maps each token (``[CLS]`` and ``[SEP]``
included, see ``pytest_xares.task.text``) through a randomly initialised embedding of the
tokenizer's vocabulary → Linear → GELU → Linear and averages over the caption's tokens (padding
left out). Every layer is ``width`` wide (1024 in the benchmark). The loss is a symmetric InfoNCE
over the batch's dot products of the embeddings as they come out of the towers (not normalised),
times a learnable logit scale (``exp`` of a log-scale that starts at log(1/0.07), unbounded),
audio→text and text→audio averaged, plus X-ARES's regulariser ``mean|x| / ‖x‖₂`` over the batch's
audio embeddings and over its text embeddings.

One difference from X-ARES, on purpose: two captions of one clip can share a batch, and neither
pair then counts the other as a negative (its caption describes the same clip; X-ARES's loss
punishes the match), nor as a positive: only the pair itself is. With Clotho's 3 839 development
clips, five captions each, in uniformly shuffled batches of 128, 2.6 % of the pairs have another
caption of their clip in the batch (1.7 such couples per batch); X-ARES's stream (clips shuffled,
their five captions in a row, then a 512-sample shuffle buffer) left 37 % of them so (30 couples
per batch).

The score is recall@1 with cosine similarity (as X-ARES ranks: it normalises before comparing),
the mean of its two directions: audio→text (each clip retrieves among all test captions, a hit
when the best is one of its own) and text→audio (each caption retrieves among all test clips, a
hit when the best is its own clip).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pytest_xares.heads.layers import mixed
from pytest_xares.heads.linear import logged
from pytest_xares.heads.metrics import Outcome
from pytest_xares.heads.train import TrainConfig, TrainLog, fit, one_thread, seeded
from pytest_xares.task import RetrievalTask
from pytest_xares.task.text import Tokenizer

if TYPE_CHECKING:
    from pytest_xares.heads import Fold

#: A split: the pooled audio embedding of each clip ``[n, D]``, and each clip's captions.
Split = tuple[np.ndarray, Sequence[Sequence[str]]]

#: The logit scale starts at 1/temperature, temperature 0.07 (CLIP's and X-ARES's choice).
INITIAL_LOGIT_SCALE = 1 / 0.07


class RetrievalHead(torch.nn.Module):
    """The audio and text towers and the learnable logit scale.

    ``forward((audio [B, D], token ids [B, L]))`` gives ``(audio embeddings [B, width], text
    embeddings [B, width], logit scale)``, what ``retrieval_loss`` takes.
    """

    def __init__(self, audio_dim: int, vocab_size: int, pad_id: int, width: int = 1024, layers: int = 1) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.audio = mixed(
            layers,
            audio_dim,
            lambda dim: torch.nn.Sequential(
                torch.nn.LayerNorm(dim),
                torch.nn.Linear(dim, width),
                torch.nn.GELU(),
                torch.nn.Linear(width, width),
            ),
        )
        self.tokens = torch.nn.Embedding(vocab_size, width)
        self.text = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.GELU(), torch.nn.Linear(width, width))
        # Learnt as a logarithm (as CLIP does): the scale stays positive and steps are relative.
        self.log_scale = torch.nn.Parameter(torch.tensor(math.log(INITIAL_LOGIT_SCALE)))

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """``[B, D]`` pooled clip embeddings → ``[B, width]``."""
        return self.audio(audio)

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` token ids padded with ``pad_id`` → ``[B, width]``, the mean over every other
        token, special ones included (zeros for a caption without any, where X-ARES divided by 0)."""
        per_token = self.text(self.tokens(ids))
        keep = (ids != self.pad_id).unsqueeze(-1).to(per_token.dtype)
        return (per_token * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)

    def logit_scale(self) -> torch.Tensor:
        """The factor on the embeddings' dot products in the loss (1/temperature), unbounded."""
        return self.log_scale.exp()

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        audio, ids = inputs
        return self.embed_audio(audio), self.embed_text(ids), self.logit_scale()


def retrieval_loss(outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], clips: torch.Tensor) -> torch.Tensor:
    """The training loss: ``symmetric_infonce`` plus ``embedding_regulariser`` of the audio and
    of the text embeddings."""
    audio, text, _ = outputs
    return symmetric_infonce(outputs, clips) + embedding_regulariser(audio) + embedding_regulariser(text)


def embedding_regulariser(embeddings: torch.Tensor) -> torch.Tensor:
    """X-ARES's penalty on a batch of embeddings: the mean absolute value of all the entries over
    their Euclidean norm, ``mean|x| / ‖x‖₂`` of the whole matrix (not row by row). Scale-free: it
    only rewards putting the mass into few entries."""
    return embeddings.abs().mean() / embeddings.square().sum().sqrt()


def symmetric_infonce(outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], clips: torch.Tensor) -> torch.Tensor:
    """The contrastive loss for a batch of (clip, caption) pairs: row ``i`` of the audio and of the
    text embeddings is pair ``i``, of clip ``clips[i]``. Cross-entropy of the scaled dot products
    (of the embeddings as they are: not normalised) towards the diagonal, audio→text and text→audio
    averaged; a pair whose clip recurs in the batch does not count the recurrences as negatives."""
    audio, text, scale = outputs
    logits = scale * audio @ text.T
    same_clip = clips[:, None] == clips[None, :]
    diagonal = torch.eye(len(clips), dtype=torch.bool, device=clips.device)
    logits = logits.masked_fill(same_clip & ~diagonal, -math.inf)
    pairs = torch.arange(len(clips), device=clips.device)
    return (torch.nn.functional.cross_entropy(logits, pairs) + torch.nn.functional.cross_entropy(logits.T, pairs)) / 2


def recall_at_1(
    audio: np.ndarray | torch.Tensor, text: np.ndarray | torch.Tensor, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Recall@1 hits by cosine similarity: for each clip (row of ``audio``, ``[n, E]``) whether the
    caption most similar to it among all of ``text`` (``[m, E]``) is one of its own, and for each
    caption whether the clip most similar to it is its own (``owner[j]``, the clip index of caption
    ``j``). Returns ``(audio→text hits [n], text→audio hits [m])`` as 0/1 integers. Of several
    equally similar candidates the one with the lowest index is retrieved."""
    audio_t = torch.as_tensor(audio)
    text_t = torch.as_tensor(text, device=audio_t.device)
    dtype = torch.promote_types(audio_t.dtype, text_t.dtype)
    owner_t = torch.as_tensor(np.asarray(owner, dtype=np.int64), device=audio_t.device)
    _check_shapes(len(audio_t), len(text_t), owner_t)
    similarity = (
        torch.nn.functional.normalize(audio_t.to(dtype), dim=1)
        @ torch.nn.functional.normalize(text_t.to(dtype), dim=1).T
    )
    # argmax returns the first of equal maxima: ties go to the lowest index, on every device.
    audio_to_text = owner_t[similarity.argmax(dim=1)] == torch.arange(len(audio_t), device=audio_t.device)
    text_to_audio = similarity.argmax(dim=0) == owner_t
    return audio_to_text.long().cpu().numpy(), text_to_audio.long().cpu().numpy()


def _check_shapes(clips: int, captions: int, owner: torch.Tensor) -> None:
    if clips == 0 or captions == 0:
        raise ValueError("retrieval needs at least one clip and one caption")
    if owner.shape != (captions,):
        raise ValueError(f"owner has shape {tuple(owner.shape)}, expected one clip index per caption ({captions},)")
    if int(owner.min()) < 0 or int(owner.max()) >= clips:
        raise ValueError(f"owner holds clip indices outside 0..{clips - 1}")


def retrieval_outcome(audio: np.ndarray | torch.Tensor, text: np.ndarray | torch.Tensor, owner: np.ndarray) -> Outcome:
    """The test Outcome of retrieval: the mean of audio→text and text→audio recall@1.

    The bootstrap's units are the clips. A clip drawn ``k`` times counts ``k`` times among the
    audio queries and brings each of its captions ``k`` times among the text queries; what is
    searched (all test captions, all test clips) stays as measured, so a resample reweighs the
    queries and never recomputes a ranking. ``extra`` holds both directions.
    """
    owner = np.asarray(owner, dtype=np.int64)
    audio_to_text, text_to_audio = (hits.astype(np.float64) for hits in recall_at_1(audio, text, owner))

    def rescore(counts: np.ndarray) -> float:
        return (_weighted_mean(audio_to_text, counts) + _weighted_mean(text_to_audio, counts[owner])) / 2

    return Outcome(
        score=rescore(np.ones(len(audio_to_text))),
        units=len(audio_to_text),
        rescore=rescore,
        extra={"audio_to_text": float(audio_to_text.mean()), "text_to_audio": float(text_to_audio.mean())},
        # per clip: its audio→text hit, the text→audio hits of its captions, and their number
        per_unit=(
            "recall_at_1",
            {
                "audio_to_text": audio_to_text,
                "text_to_audio": np.bincount(owner, text_to_audio, minlength=len(audio_to_text)),
                "captions": np.bincount(owner, minlength=len(audio_to_text)),
            },
        ),
    )


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = weights.sum()
    return float(weights @ values / total) if total > 0 else math.nan


@dataclass(frozen=True)
class Captioned:
    """A split ready for the towers: clip embeddings, and every caption's token ids padded with the
    tokenizer's pad id, with its length and its clip."""

    audio: torch.Tensor  # [n, D] float32, on the training device
    tokens: torch.Tensor  # [m, L] int64, on the training device
    lengths: torch.Tensor  # [m] int64, on the CPU: batches are cut to their longest caption there
    owner: torch.Tensor  # [m] int64, on the training device


def captioned(split: Split, tokenizer: Tokenizer, device: torch.device) -> Captioned:
    """Tokenize a split's captions and move it to ``device``."""
    embeddings, captions = split
    if len(embeddings) != len(captions):
        raise ValueError(f"{len(embeddings)} clip embeddings but captions for {len(captions)} clips")
    if not any(captions):
        raise ValueError("a retrieval split needs at least one caption")
    texts = [text for clip in captions for text in clip]
    owner = torch.tensor([clip for clip, texts_of_clip in enumerate(captions) for _ in texts_of_clip], dtype=torch.long)
    tokens, lengths = _padded(tokenizer.encode(texts), tokenizer.pad_id)
    audio = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
    return Captioned(audio.to(device), tokens.to(device), lengths, owner.to(device))


def _padded(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(row) for row in ids], dtype=torch.long)
    tokens = torch.full((len(ids), int(lengths.max())), pad_id, dtype=torch.long)
    for row, row_ids in enumerate(ids):
        tokens[row, : len(row_ids)] = torch.tensor(row_ids, dtype=torch.long)
    return tokens, lengths


@dataclass(frozen=True)
class CaptionPairs:
    """Training samples: one (clip, caption) pair per caption; a batch's input is ``(clip
    embeddings, token ids padded to the batch's longest caption)``, its target the clip indices."""

    split: Captioned

    def __len__(self) -> int:
        return len(self.split.lengths)

    def batch(self, indices: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        longest = int(self.split.lengths[indices].max())
        on_device = indices.to(self.split.tokens.device)
        clips = self.split.owner[on_device]
        return (self.split.audio[clips], self.split.tokens[on_device, :longest]), clips


def embed(model: RetrievalHead, split: Captioned, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's embeddings of a split's clips ``[n, width]`` and captions ``[m, width]``, in
    eval mode and in chunks (each padded only to its own longest caption)."""
    model.eval()
    with torch.inference_mode(), one_thread():
        audio = torch.cat([model.embed_audio(part) for part in split.audio.split(chunk)])
        text = [
            model.embed_text(split.tokens[start : start + chunk, : int(split.lengths[start : start + chunk].max())])
            for start in range(0, len(split.lengths), chunk)
        ]
    return audio, torch.cat(text)


def train_retrieval(
    train: Split,
    valid: Split,
    tokenizer: Tokenizer,
    config: TrainConfig,
    device: torch.device,
    width: int = 1024,
    layers: int = 1,
) -> tuple[RetrievalHead, TrainLog]:
    """Train the two towers on ``device`` with ``fit`` (Adam, the config's epochs, batch size,
    learning rate and seed) and keep the epoch of the best validation recall@1 (audio of several
    ``layers`` is mixed by learned weights first, ``heads.layers``)."""
    train_split, valid_split = captioned(train, tokenizer, device), captioned(valid, tokenizer, device)
    audio_dim = train_split.audio.shape[1]
    model = seeded(config.seed, lambda: RetrievalHead(audio_dim, tokenizer.vocab_size, tokenizer.pad_id, width, layers))
    model.to(device)
    log = fit(
        model, retrieval_loss, CaptionPairs(train_split), lambda _: _split_outcome(model, valid_split).score, config
    )
    return model, log


def _split_outcome(model: RetrievalHead, split: Captioned) -> Outcome:
    audio, text = embed(model, split)
    return retrieval_outcome(audio, text, split.owner.cpu().numpy())


def retrieval_probe(
    train: Split,
    valid: Split,
    test: Split,
    tokenizer: Tokenizer,
    config: TrainConfig,
    device: torch.device,
    width: int = 1024,
    layers: int = 1,
) -> tuple[Outcome, TrainLog]:
    """The test Outcome (recall@1, see ``retrieval_outcome``) of the retrieval head trained on
    ``train`` with the checkpoint of the best recall@1 on ``valid``, and the training log. Each split
    is the clips' pooled audio embeddings ``[n, D]`` and each clip's captions."""
    model, log = train_retrieval(train, valid, tokenizer, config, device, width, layers)
    return _split_outcome(model, captioned(test, tokenizer, device)), log


def check(task: RetrievalTask, options: dict[str, Any], offline: bool) -> None:
    """The tokenizer loads (it raises ``Unavailable`` saying what to install), before any audio is encoded."""
    task.tokenizer()


def train_and_score(fold: Fold) -> tuple[Outcome, dict[str, Any]]:
    task: RetrievalTask = fold.task
    pair = lambda split: (split.features, [task.target(m) for m in split.metadata])
    outcome, log = retrieval_probe(
        pair(fold.train),
        pair(fold.valid),
        pair(fold.test),
        task.tokenizer(),
        fold.config,
        fold.device,
        width=task.width,
        layers=fold.train.layer_count,
    )
    return outcome, logged(log)
