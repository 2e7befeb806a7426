"""Demo: brightness — a rated score (0 to 10) of how bright a harmonic tone sounds.

The score follows how steeply the harmonics fall off, which shows as the slope of the log-mel
spectrum: learnable from pooled features. But the fundamental varies two octaves, each harmonic
is ±3 dB off its slope, and the rating carries a rater's noise (σ 0.8 of a point), so no probe
reaches a perfect correlation. Laid out like speechocean762 (a number per clip, train and test
shards, the test split doubling as validation, scored by Pearson correlation) and stored as
22.05 kHz stereo WAV.
"""

from pytest_xares.data.demo_kinds import synthesise_brightness
from pytest_xares.task import RegressionTask, splits

TASK = RegressionTask(
    name="demo_brightness",
    formal_name="Demo: brightness",
    suite="demo",
    source=synthesise_brightness,
    splits=splits("demo_brightness_train", "demo_brightness_test", "demo_brightness_test"),
    label="brightness",
    weight=100,
    epochs=50,
    learning_rate=3e-2,
)
