"""RAVDESS."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="ravdess",
    formal_name="RAVDESS",
    record=14722524,
    splits=folds(range(4), "ravdess_fold_{k}_0000000.tar"),
    label="emotion",
    classes=vocabulary("ravdess"),
    weight=360,
)
