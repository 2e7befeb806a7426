"""MAESTRO: piano transcription as 87 pitches in time (micro segment F1 on 0.1 s segments).

Each clip's json is its list of notes ``{start, end, note}`` with MIDI note numbers 21 to 107;
positives are rare, so the loss weighs them by 10.
"""

from pytest_xares.task import FrameTask, splits, vocabulary

TASK = FrameTask(
    name="maestro",
    formal_name="MAESTRO",
    description="Piano note detection: which of 87 notes (MIDI 21 to 107) sound in each frame of piano performances.",
    reference="https://magenta.tensorflow.org/datasets/maestro",
    domain="music",
    record=14858022,
    splits=splits("maestro_train", "maestro_valid", "maestro_test"),
    onset="start",
    offset="end",
    label="note",
    separator=None,
    classes=vocabulary("maestro"),
    segment_seconds=0.1,
    average="micro",
    pos_weight=10.0,
    weight=65,
    epochs=50,
    batch_size=1,
)
