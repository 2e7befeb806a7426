"""CREMA-D."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="cremad",
    formal_name="CREMA-D",
    description="Emotion of acted sentences: anger, disgust, fear, happiness, neutral or sadness.",
    reference="https://github.com/CheyneyComputerScience/CREMA-D",
    domain="speech",
    record=14646870,
    splits=splits("wds-audio-train", "wds-audio-valid", "wds-audio-test"),
    label="label",
    classes=vocabulary("cremad"),
    weight=1116,
)
