"""DESED: 10 domestic sound event classes located in time (macro segment F1 on 1 s segments).

Each clip's json is its list of events ``{onset, offset, label}``; a label may name several
classes, comma-separated.
"""

from pytest_xares.task import FrameTask, splits, vocabulary

TASK = FrameTask(
    name="desed",
    formal_name="DESED",
    description="Sound event detection: when each of 10 domestic sound classes is active in 10 s recordings.",
    reference="https://project.inria.fr/desed/",
    domain="sound",
    record=14808180,
    splits=splits("wds-audio-train", "wds-audio-eval", "wds-audio-eval"),
    classes=vocabulary("desed"),
    separator=",",
    segment_seconds=1.0,
    average="macro",
    weight=1153,
)
