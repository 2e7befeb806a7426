"""UrbanSound 8k."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="urbansound8k",
    formal_name="UrbanSound 8k",
    description="Urban sound classification: 10 classes (sirens, drilling, dog barks, …), 10 folds.",
    reference="https://urbansounddataset.weebly.com/urbansound8k.html",
    domain="sound",
    record=14722683,
    splits=folds(range(1, 11), "urbansound_fold{k}_0000000.tar"),
    label="soundevent",
    classes=vocabulary("urbansound8k"),
    weight=873,
)
