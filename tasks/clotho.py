"""Clotho: audio–text retrieval with five captions per clip (recall@1, both directions averaged).

The test split is the record's ``clotho_validation`` shards, the validation split its
``clotho_evaluation`` ones, as in X-ARES. Captions are tokenised with bert-base-uncased's WordPiece
vocabulary, ``[CLS]`` and ``[SEP]`` included and nothing cut, as X-ARES's tokenizer call gives them
(see ``pytest_xares.task.text.bert_uncased`` for where the vocabulary is found).
"""

from pytest_xares.task import RetrievalTask, splits
from pytest_xares.task.text import bert_uncased

TASK = RetrievalTask(
    name="clotho",
    formal_name="Clotho",
    description="Audio–text retrieval: each clip's captions among all test captions, and each caption's clip.",
    reference="https://arxiv.org/abs/1910.09387",
    domain="sound",
    record=14856454,
    splits=splits("clotho_development", "clotho_evaluation", "clotho_validation"),
    tokenizer=bert_uncased,
    weight=1045,
    epochs=20,
    batch_size=128,
    crop_seconds=30,
)
