"""VoxLingua33."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="voxlingua33",
    formal_name="VoxLingua33",
    description="Spoken language identification over 33 languages of VoxLingua107.",
    reference="https://arxiv.org/abs/2011.12998",
    domain="speech",
    record=14812245,
    splits=splits("train_subset", "dev", "dev"),
    label="labels",
    classes=vocabulary("voxlingua33"),
    weight=1609,
    batch_size=64,
    crop_seconds=10,
)
