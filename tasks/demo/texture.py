"""Demo: noise textures — the louder of two mixed noise colours or bands.

Each texture has its own spectral shape, which a mel spectrum shows plainly; but every clip mixes
in a second texture 1 to 10 dB below the first, and each shape's tilt or band is jittered, so
close mixes are hard to call. Laid out like CREMA-D (train/valid/test, string labels) and stored
as 44.1 kHz stereo WAV of varying length, so the engine must down-mix, resample and batch unequal
clips.
"""

from pytest_xares.data.demo import TEXTURES, synthesise_texture
from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="demo_texture",
    formal_name="Demo: noise textures",
    suite="demo",
    source=synthesise_texture,
    splits=splits("wds-audio-train", "wds-audio-valid", "wds-audio-test"),
    label="texture",
    classes=TEXTURES,
    weight=150,
    epochs=50,
    learning_rate=1e-2,
)
