"""Vocal Imitation."""

from pytest_xares.task import ClipTask, folds, vocabulary

TASK = ClipTask(
    name="vocalimitations",
    formal_name="Vocal Imitation",
    description="Which of 302 sound events a person imitates with their voice, 3 folds.",
    reference="https://zenodo.org/records/14862060",
    domain="sound",
    record=14862060,
    splits=folds(range(3), "vocal_imitations_fold{k:02}_0000000.tar"),
    label="imitation",
    classes=vocabulary("vocalimitations"),
    weight=1867,
    epochs=20,
)
