"""ASV2015."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="asvspoof2015",
    formal_name="ASV2015",
    record=14718430,
    splits=splits("asvspoof_train", "asvspoof_valid", "asvspoof_eval"),
    label="binary_spoof",
    classes=vocabulary("asvspoof2015"),
    weight=2000,
    epochs=5,
    batch_size=64,
)
