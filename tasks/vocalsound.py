"""VocalSound."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="vocalsound",
    formal_name="VocalSound",
    record=14722710,
    splits=splits("train", "valid", "test"),
    label="label",
    classes=vocabulary("vocalsound"),
    weight=2000,
)
