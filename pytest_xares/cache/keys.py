"""Every cache key, in one place: what an entry depends on is written here and nowhere else.

A key is a digest of the content: the encoder's fingerprint, the task definition, the data's
checksums, the protocol version, the seed and every option that changes a result. Change any of
them and the entry is not found, so a stale one is never used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pytest_xares.data.records import content_id, record_checksums
from pytest_xares.hashing import digest
from pytest_xares.task import Task

#: Bumped whenever a change to the engine changes a score; it is part of every cache key.
#: 3: audio is resampled as X-ARES resamples it (torchaudio's windowed sinc), not with soxr.
#: 4: frame targets, the Clotho head and the ASR head as X-ARES 0.1.3 has them (README,
#: "Differences from X-ARES 0.1.3"); the wav2vec2 and data2vec wrappers' 10 s chunks.
PROTOCOL_VERSION = "4"
#: Bumped when a score entry gains what an older one lacks, so that the older is computed again
#: (from its cached embeddings). 2: the per-clip data of a paired comparison (``results.paired``).
RESULT_LAYOUT = "2"


def embedding_key(
    encoder_fingerprint: str, task: Task, pattern: str, shards: list[Path], frames: bool, layers: str | None = None
) -> str:
    """The embeddings of one split's shards: pooled, or (``frames``) every frame as well; of the
    encoder's output, or of the ``layers`` it names (``encoder.layers.Layers.stored``).

    Entries with frames, or with layers, are other entries; pooled ones of the output keep the
    keys they always had."""
    return digest(
        "embeddings",
        PROTOCOL_VERSION,
        encoder_fingerprint,
        task.name,
        pattern,
        task.crop_seconds,
        *(("frames",) if frames else ()),
        *((("layers", layers),) if layers is not None else ()),
        content_id(shards, record_checksums(shards[0].parent)),
    )


def result_key(
    embedding_keys: Mapping[str, str],
    task: Task,
    method: str,
    seed: int,
    options: Mapping[str, Any],
    seeds: int = 1,
    layers: str = "last",
) -> str:
    """A task's score by one method, from the embeddings of its splits; ``options`` are the
    head's settings that change the score (the ASR task's language model), ``seeds`` the number
    of seeds its heads are trained with (``--xares-seeds``; the result of one seed keeps its key),
    ``layers`` the layers scored (``--xares-layers``; the last layer's result keeps its key)."""
    return digest(
        PROTOCOL_VERSION,
        RESULT_LAYOUT,
        dict(embedding_keys),
        task.fingerprint(),
        method,
        seed,
        dict(options),
        *((("seeds", seeds),) if seeds != 1 else ()),
        *((("layers", layers),) if layers != "last" else ()),
    )


def check_key(encoder_fingerprint: str, device_type: str) -> str:
    """An encoder check's verdict for an encoder on a kind of device."""
    return digest(PROTOCOL_VERSION, encoder_fingerprint, device_type)
