"""VocalSound."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="vocalsound",
    formal_name="VocalSound",
    description="Human non-speech vocalisations: laughter, sigh, cough, throat clearing, sneeze or sniff.",
    reference="https://arxiv.org/abs/2205.03433",
    domain="speech",
    record=14722710,
    splits=splits("train", "valid", "test"),
    label="label",
    classes=vocabulary("vocalsound"),
    weight=2000,
)
