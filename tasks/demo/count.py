"""Demo: source counting — how many harmonic voices (1 to 5), steady or gliding, sound at once.

Each voice adds its harmonics at about the same level over noise of a fixed level, so the count
shows in how many mel bands rise above the noise and by how much: learnable from pooled log-mel
features. But voices share bands and the level step from four voices to five is about 1 dB, so
the high counts blur. Laid out like LibriCount (a count label, scored on 1 s crops; clips shorter
than a crop are zero-padded) and stored as 16 kHz mono WAV.
"""

from pytest_xares.data.demo import SOURCE_COUNTS, synthesise_count
from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="demo_count",
    formal_name="Demo: source counting",
    suite="demo",
    source=synthesise_count,
    splits=splits("demo_count_train", "demo_count_valid", "demo_count_test"),
    label="num_sources",
    classes=SOURCE_COUNTS,
    crop_seconds=1.0,
    weight=100,
    epochs=50,
    learning_rate=1e-2,
)
