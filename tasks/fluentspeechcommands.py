"""Fluent Speech Commands."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="fluentspeechcommands",
    formal_name="Fluent Speech Commands",
    description="Spoken language understanding: which of 248 command sentences was spoken.",
    reference="https://arxiv.org/abs/1904.03670",
    domain="speech",
    record=14722453,
    splits=splits("fluentspeechcommands_train", "fluentspeechcommands_valid", "fluentspeechcommands_test"),
    label="transcription",
    classes=vocabulary("fluentspeechcommands"),
    weight=2000,
)
