"""FSD50k: 200 sound event classes, any number per clip (macro mAP)."""

from pytest_xares.task import MultiLabelTask, splits, vocabulary

TASK = MultiLabelTask(
    name="fsd50k",
    formal_name="FSD50k",
    description="Sound event tagging: which of 200 AudioSet-ontology classes a Freesound clip holds (multi-label).",
    reference="https://arxiv.org/abs/2010.00475",
    domain="sound",
    record=14868441,
    splits=splits("fsd50k_train", "fsd50k_validation", "fsd50k_eval"),
    label="soundevent",  # class names joined by ";"
    classes=vocabulary("fsd50k"),
    weight=2000,
    batch_size=64,
    crop_seconds=10,
)
