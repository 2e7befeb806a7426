"""LibriSpeech-MF."""

from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="librispeechmalefemale",
    formal_name="LibriSpeech-MF",
    record=14716252,
    splits=splits("train-clean-100", "dev-clean", "test-clean"),
    label="gender",
    classes=2,
    to_label=lambda gender: 0 if gender == "M" else 1,
    weight=2620,
    crop_seconds=5,
)
