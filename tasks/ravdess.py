"""RAVDESS."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="ravdess",
    formal_name="RAVDESS",
    description="Emotion of acted English speech: 8 emotions, 4 folds.",
    reference="https://doi.org/10.1371/journal.pone.0196391",
    domain="speech",
    record=14722524,
    splits=folds(range(4), "ravdess_fold_{k}_0000000.tar"),
    label="emotion",
    classes=vocabulary("ravdess"),
    weight=360,
)
