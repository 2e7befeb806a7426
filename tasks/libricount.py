"""LibriCount."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="libricount",
    formal_name="LibriCount",
    record=14722478,
    splits=folds(range(5), "libricount_fold{k:02d}.tar"),
    label="num_speakers",
    classes=vocabulary("libricount"),
    weight=1144,
    batch_size=64,
)
