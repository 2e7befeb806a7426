"""Speech Commands V1."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="speechcommandsv1",
    formal_name="Speech Commands V1",
    description="Keyword spotting: which of 30 one-second spoken words.",
    reference="https://arxiv.org/abs/1804.03209",
    domain="speech",
    record=14722647,
    splits=splits("wds-audio-train", "wds-audio-valid", "wds-audio-test"),
    label="labels",
    classes=vocabulary("speechcommandsv1"),
    weight=2000,
    batch_size=64,
)
