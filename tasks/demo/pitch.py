"""Demo: pitch classes — which of 8 fundamentals, three semitones apart, a noisy harmonic tone has.

The harmonics' positions give the class away to a mel spectrum, but each fundamental strays about
a semitone from its class centre (so neighbouring classes overlap) and the harmonics' amplitudes
are random, so no single band decides it. Laid out like ESC-50 (k-fold, the label field holds the
class index) and stored as 22.05 kHz FLAC, so the engine must resample.
"""

from pytest_xares.data.demo import PITCH_CENTRES, synthesise_pitch
from pytest_xares.task import ClipTask, folds

TASK = ClipTask(
    name="demo_pitch",
    formal_name="Demo: pitch classes",
    suite="demo",
    source=synthesise_pitch,
    splits=folds(range(1, 5)),
    label="label",
    classes=len(PITCH_CENTRES),
    weight=200,
    epochs=50,
    learning_rate=1e-2,
)
