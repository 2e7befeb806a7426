"""LibriSpeech-100h: speech recognition through a frozen language model (max(0, 1 − WER)).

Its record (14716252) is LibriSpeech-MF's too; both keep it in ``librispeech/``. The language model
is Qwen/Qwen2.5-0.5B unless ``--xares-asr-lm`` names another (a hub name or a local folder); it reads
``<|vision_end|>`` between the audio and the transcript, as in X-ARES (``AsrTask.separator``).
"""

from pytest_xares.task import AsrTask, splits

TASK = AsrTask(
    name="librispeech",
    formal_name="LibriSpeech-100h",
    description="Speech recognition of read English audiobooks (100 h of training speech) through a frozen language model.",
    reference="https://www.openslr.org/12",
    domain="speech",
    record=14716252,
    splits=splits("train-clean-100", "dev-clean", "test-clean"),
    label="trans",
    weight=10000,
    batch_size=4,
)
