"""LibriSpeech-MF.

Its record (14716252) is LibriSpeech-100h's too: both tasks keep it in ``librispeech/``, so it is
stored and fetched once. An X-ARES ``env/librispeechmalefemale/`` folder is found as well.
"""

from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="librispeechmalefemale",
    formal_name="LibriSpeech-MF",
    description="Speaker gender of read English audiobooks (LibriSpeech): male or female.",
    reference="https://www.openslr.org/12",
    domain="speech",
    record=14716252,
    folder="librispeech",  # shared with the LibriSpeech-100h (ASR) task of the same record
    splits=splits("train-clean-100", "dev-clean", "test-clean"),
    label="gender",
    classes=2,
    to_label=lambda gender: 0 if gender == "M" else 1,
    weight=2620,
    crop_seconds=5,
)
