"""Fluent Speech Commands."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="fluentspeechcommands",
    formal_name="Fluent Speech Commands",
    record=14722453,
    splits=splits("fluentspeechcommands_train", "fluentspeechcommands_valid", "fluentspeechcommands_test"),
    label="transcription",
    classes=vocabulary("fluentspeechcommands"),
    weight=2000,
)
