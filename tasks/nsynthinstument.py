"""NSynth-Instruments."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="nsynthinstument",
    formal_name="NSynth-Instruments",
    description="Instrument family of a single musical note: 11 families.",
    reference="https://magenta.tensorflow.org/datasets/nsynth",
    domain="music",
    record=14725174,
    splits=splits("nsynth_train", "nsynth_valid", "nsynth_test"),
    label="instrument_family_str",
    classes=vocabulary("nsynthinstument"),
    weight=2000,
)
