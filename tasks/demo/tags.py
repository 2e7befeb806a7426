"""Demo: sound tags — which of five sources (bell, bird, engine, rain, siren) sound in a mixture.

A clip mixes none to three sources over pink noise, each with its own spectral signature, which
pooled log-mel features show; but a source may lie 30 dB below the loudest level, under the
noise, and bells and sirens share bands, so faint sources are missed. Laid out like FSD50k (the label field holds the class names
joined by ``;``, scored by macro mAP; here it may also be empty) and stored as 48 kHz Ogg Vorbis.
"""

from pytest_xares.data.demo_kinds import TAG_SOURCES, synthesise_tags
from pytest_xares.task import MultiLabelTask, splits

TASK = MultiLabelTask(
    name="demo_tags",
    formal_name="Demo: sound tags",
    suite="demo",
    source=synthesise_tags,
    splits=splits("demo_tags_train", "demo_tags_valid", "demo_tags_test"),
    label="soundevent",
    classes=TAG_SOURCES,
    weight=100,
    epochs=50,
    learning_rate=1e-2,
)
