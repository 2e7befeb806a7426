"""ESC-50."""

from pytest_xares.task import ClipTask, folds

TASK = ClipTask(
    name="esc50",
    formal_name="ESC-50",
    description="Environmental sound classification: 5 s clips of 50 classes, 5 folds.",
    reference="https://github.com/karolpiczak/ESC-50",
    domain="sound",
    record=14614287,
    splits=folds(range(1, 6)),
    label="label",
    # `label` already holds the class index.
    classes=50,
    weight=400,
)
