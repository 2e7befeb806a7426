"""ASV2015."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="asvspoof2015",
    formal_name="ASV2015",
    description="Spoofing detection: genuine speech or speech made by synthesis or voice conversion.",
    reference="https://www.isca-speech.org/archive/interspeech_2015/i15_2037.html",
    domain="speech",
    record=14718430,
    splits=splits("asvspoof_train", "asvspoof_valid", "asvspoof_eval"),
    label="binary_spoof",
    classes=vocabulary("asvspoof2015"),
    weight=2000,
    epochs=5,
    batch_size=64,
)
