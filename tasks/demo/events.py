"""Demo: sound events — when beeps, buzzes, hisses and knocks sound within 4 s of noise.

Each kind has its own spectrum (a 0.7–1.4 kHz tone, a low harmonic buzz, a high noise band, trains
of damped low knocks), which a log-mel frame shows; but events overlap, their levels span 24 dB
(the faintest sink a little below the noise), and knocks leave quiet gaps between their strokes,
so a frame-wise linear head misses some. 15 % of the clips hold no event. Laid out like DESED (the
json is the clip's list of ``{onset, offset, label}``, scored by macro F1 on 0.5 s segments) and
stored as 16 kHz FLAC.
"""

from pytest_xares.data.demo_kinds import EVENT_CLASSES, synthesise_events
from pytest_xares.task import FrameTask, splits

TASK = FrameTask(
    name="demo_events",
    formal_name="Demo: sound events",
    suite="demo",
    source=synthesise_events,
    splits=splits("demo_events_train", "demo_events_valid", "demo_events_test"),
    classes=EVENT_CLASSES,
    segment_seconds=0.5,
    average="macro",
    weight=100,
    epochs=15,
    batch_size=8,  # clips: 12 steps an epoch
    learning_rate=1e-2,
)
