"""LibriSpeech-100h: speech recognition through a frozen language model (max(0, 1 − WER)).

Its record (14716252) is LibriSpeech-MF's too; both keep it in ``librispeech/``. The language model
is Qwen/Qwen2.5-0.5B unless ``--xares-asr-lm`` names another (a hub name or a local folder).
"""

from pytest_xares.task import AsrTask, splits

TASK = AsrTask(
    name="librispeech",
    formal_name="LibriSpeech-100h",
    record=14716252,
    splits=splits("train-clean-100", "dev-clean", "test-clean"),
    label="trans",
    weight=10000,
    batch_size=4,
)
