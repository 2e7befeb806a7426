"""Embeddings of a split, as the heads get them: pooled (one row per sample) or every frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class EmbeddingSet:
    """Pooled embeddings of one split, in shard order, one row per sample (a clip or a crop)."""

    features: np.ndarray  # [samples, output_dim] float32
    keys: list[str]  # "<shard>/<key>" plus "#<crop>" for crops
    metadata: list[Any]  # each sample's json

    @classmethod
    def concatenate(cls, sets: list[EmbeddingSet]) -> EmbeddingSet:
        return cls(
            np.concatenate([s.features for s in sets]),
            [k for s in sets for k in s.keys],
            [m for s in sets for m in s.metadata],
        )


@dataclass
class FrameSet:
    """Frame embeddings of one split, for frame-level and speech tasks: every sample's frames one
    after another in ``frames`` (float16, memory-mapped when read from the cache), sample ``i``
    at rows ``starts[i]`` to ``starts[i] + lengths[i]``."""

    frames: np.ndarray  # [total frames, output_dim] float16
    starts: np.ndarray  # [samples] int64
    lengths: np.ndarray  # [samples] int64
    keys: list[str]
    metadata: list[Any]
    hop_seconds: float  # the encoder's declared hop

    def __len__(self) -> int:
        return len(self.keys)

    def sample(self, index: int) -> np.ndarray:
        """The frames of one sample, ``[frames, output_dim]`` float16 (a view: no copy)."""
        start = int(self.starts[index])
        return self.frames[start : start + int(self.lengths[index])]


#: A split's embeddings as a head gets them.
Split = EmbeddingSet | FrameSet
