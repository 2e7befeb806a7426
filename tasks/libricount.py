"""LibriCount."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="libricount",
    formal_name="LibriCount",
    description="Speaker counting: how many speakers (0 to 10) talk at once in a mixture of LibriSpeech.",
    reference="https://www.audiolabs-erlangen.de/resources/2017-CountNet",
    domain="speech",
    record=14722478,
    splits=folds(range(5), "libricount_fold{k:02d}.tar"),
    label="num_speakers",
    classes=vocabulary("libricount"),
    weight=1144,
    batch_size=64,
)
