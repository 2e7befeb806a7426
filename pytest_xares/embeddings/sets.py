"""Embeddings of a split, as the heads get them: pooled (one row per sample) or every frame.

A split may hold several of the encoder's layers (``--xares-layers``): each row is then the
layers' vectors one after another, ``[layer 0 | layer 1 | …]``, ``layers`` says which of the
encoder's layers they are, and ``layer(n)`` is the split of layer ``n`` alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _columns(layers: tuple[int, ...], width: int, number: int) -> slice:
    """Where layer ``number`` is in rows of ``width`` values that hold ``layers`` side by side."""
    if number not in layers:
        raise KeyError(f"layer {number} is not among the stored layers {list(layers)}")
    dim, at = width // len(layers), layers.index(number)
    return slice(at * dim, (at + 1) * dim)


@dataclass
class EmbeddingSet:
    """Pooled embeddings of one split, in shard order, one row per sample (a clip or a crop)."""

    features: np.ndarray  # [samples, layers × output_dim] float32
    keys: list[str]  # "<shard>/<key>" plus "#<crop>" for crops
    metadata: list[Any]  # each sample's json
    #: The encoder's layers in each row, in order; empty: its output alone.
    layers: tuple[int, ...] = field(default=())

    @property
    def layer_count(self) -> int:
        return max(1, len(self.layers))

    def layer(self, number: int) -> EmbeddingSet:
        """The embeddings of the encoder's layer ``number`` alone."""
        features = np.ascontiguousarray(self.features[:, _columns(self.layers, self.features.shape[1], number)])
        return dataclasses.replace(self, features=features, layers=())

    @classmethod
    def concatenate(cls, sets: list[EmbeddingSet]) -> EmbeddingSet:
        return cls(
            np.concatenate([s.features for s in sets]),
            [k for s in sets for k in s.keys],
            [m for s in sets for m in s.metadata],
            sets[0].layers,
        )


@dataclass
class FrameSet:
    """Frame embeddings of one split, for frame-level and speech tasks: every sample's frames one
    after another in ``frames`` (float16, memory-mapped when read from the cache), sample ``i``
    at rows ``starts[i]`` to ``starts[i] + lengths[i]``."""

    frames: np.ndarray  # [total frames, layers × output_dim] float16
    starts: np.ndarray  # [samples] int64
    lengths: np.ndarray  # [samples] int64
    keys: list[str]
    metadata: list[Any]
    hop_seconds: float  # the encoder's declared hop
    #: The encoder's layers in each row, in order; empty: its output alone.
    layers: tuple[int, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def layer_count(self) -> int:
        return max(1, len(self.layers))

    def layer(self, number: int) -> FrameSet:
        """The frames of the encoder's layer ``number`` alone (a strided view: nothing is read)."""
        columns = _columns(self.layers, self.frames.shape[1], number)
        return dataclasses.replace(self, frames=self.frames[:, columns], layers=())

    def sample(self, index: int) -> np.ndarray:
        """The frames of one sample, ``[frames, layers × output_dim]`` float16 (a view: no copy)."""
        start = int(self.starts[index])
        return self.frames[start : start + int(self.lengths[index])]


#: A split's embeddings as a head gets them.
Split = EmbeddingSet | FrameSet
