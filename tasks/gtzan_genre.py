"""GTZAN Genre."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="gtzan_genre",
    formal_name="GTZAN Genre",
    record=14722472,
    splits=folds(range(10), "gtzan_fold_{k}_0000000.tar"),
    label="genre",
    classes=vocabulary("gtzan_genre"),
    weight=100,
)
