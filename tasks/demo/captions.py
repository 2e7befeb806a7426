"""Demo: captions — audio–text retrieval of sounds described by pitch, timbre and rhythm.

Every clip is one of 18 combinations (low, middle or high; pure, buzzy or noisy; steady or
pulsing), and its five captions name them in different words ("a deep harsh tone that is
intermittent"). Pitch shows plainly in pooled log-mel features; timbre and rhythm less so (a
noise band and a buzz's harmonics blur alike in the high mel bands, and pulsing shows in the mean
over frames only as the noise floor's share), so a clip is often matched to the captions of a
neighbouring combination. Laid out like Clotho (five ``caption_N`` fields per clip; the test split
is the ``validation`` shard, validation the ``evaluation`` one; recall@1 averaged over both
directions), tokenised by a word-level tokenizer over the captions' few words, and stored as
44.1 kHz MP3.
"""

from pytest_xares.data.demo_kinds import caption_tokenizer, synthesise_captions
from pytest_xares.task import RetrievalTask, splits

TASK = RetrievalTask(
    name="demo_captions",
    formal_name="Demo: captions",
    suite="demo",
    source=synthesise_captions,
    splits=splits("demo_captions_development", "demo_captions_evaluation", "demo_captions_validation"),
    tokenizer=caption_tokenizer,
    width=64,
    weight=100,
    epochs=25,
    learning_rate=3e-3,
)
