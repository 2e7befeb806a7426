"""Test doubles for your own integrations, and for pytest-xares's tests: encoders
(``testing.encoders``), small generated tasks and shards (``testing.tasks``), a stand-in for
Zenodo on 127.0.0.1 with faults to inject (``testing.zenodo_server``) and a tiny language model
for the ASR task (``testing.language_model``)::

    from pytest_xares.testing import ZenodoServer, tiny_language_model, write_tone_shard
"""

from pytest_xares.testing.encoders import BANDS_ENCODER, CRASHING_ENCODER, LAYERED_ENCODER, MEL, encoder_file
from pytest_xares.testing.language_model import QWEN25_05B, tiny_language_model
from pytest_xares.testing.tasks import TINY_TASK, tiny_task, tone, write_tone_shard
from pytest_xares.testing.zenodo_server import Fault, ZenodoServer

__all__ = [
    "BANDS_ENCODER",
    "CRASHING_ENCODER",
    "LAYERED_ENCODER",
    "MEL",
    "QWEN25_05B",
    "TINY_TASK",
    "Fault",
    "ZenodoServer",
    "encoder_file",
    "tiny_language_model",
    "tiny_task",
    "tone",
    "write_tone_shard",
]
