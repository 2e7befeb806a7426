"""VoxLingua33."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="voxlingua33",
    formal_name="VoxLingua33",
    record=14812245,
    splits=splits("train_subset", "dev", "dev"),
    label="labels",
    classes=vocabulary("voxlingua33"),
    weight=1609,
    batch_size=64,
    crop_seconds=10,
)
