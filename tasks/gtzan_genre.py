"""GTZAN Genre."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="gtzan_genre",
    formal_name="GTZAN Genre",
    description="Music genre of 30 s excerpts: 10 genres, 10 folds.",
    reference="https://doi.org/10.1109/TSA.2002.800560",
    domain="music",
    record=14722472,
    splits=folds(range(10), "gtzan_fold_{k}_0000000.tar"),
    label="genre",
    classes=vocabulary("gtzan_genre"),
    weight=100,
)
