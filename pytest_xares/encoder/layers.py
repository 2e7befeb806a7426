"""Which of an encoder's layers are scored (``--xares-layers``), and how its layers are had.

An encoder exposes its hidden states in one of two ways, both optional:

- a method ``hidden_states(audio) -> Sequence[Tensor]``: its ``L`` hidden states from the bottom
  of the model to the top, each ``[batch, frames, output_dim]``, the last one being what ``forward``
  returns; ``forward`` stays what X-ARES scores, as cheap as ever;
- ``forward`` itself returning such a sequence, whose last tensor is what X-ARES would score.

An encoder that does neither has one layer, its output. Layers are numbered from 0 at the bottom;
a negative number counts from the top (``-1``: the last).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch

#: The modes of ``--xares-layers``; an explicit list of layer numbers is the fourth.
MODES = ("last", "all", "weighted")
_LIST = re.compile(r"-?\d+(,-?\d+)*")


class LayerError(ValueError):
    """What an encoder returned is not a tensor or a sequence of tensors, or a layer is out of range."""


@dataclass(frozen=True)
class Layers:
    """A selection of layers: ``last`` (X-ARES's protocol), ``all`` (a head per layer), ``weighted``
    (one head on a learned softmax-weighted sum of every layer) or ``numbers`` (a head per listed layer)."""

    mode: str = "last"
    numbers: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Layers:
        """``last``, ``all``, ``weighted`` or comma-separated layer numbers such as ``3,6,12`` or ``-1``;
        raises ``ValueError`` for anything else."""
        text = text.strip().replace(" ", "")
        if text in MODES:
            return cls(text)
        if _LIST.fullmatch(text):
            numbers = tuple(int(n) for n in text.split(","))
            if len(set(numbers)) != len(numbers):
                raise ValueError(f"layer numbers repeat in {text!r}")
            return cls("list", numbers)
        raise ValueError(f"not a layer selection: {text!r} (last, all, weighted, or layer numbers like 3,6,12)")

    def __str__(self) -> str:
        return ",".join(map(str, self.numbers)) if self.mode == "list" else self.mode

    @property
    def last(self) -> bool:
        """X-ARES's protocol: only the encoder's output (its last layer) is encoded and scored."""
        return self.mode == "last"

    def chosen(self, count: int) -> list[int]:
        """The layers a head is trained on (each its own for ``all`` and a list, all together for
        ``weighted``), as numbers from 0, for an encoder of ``count`` layers; raises ``LayerError``
        for a listed layer it does not have."""
        if self.mode == "last":
            return [count - 1]
        if self.mode in ("all", "weighted"):
            return list(range(count))
        out = [n for n in self.numbers if not -count <= n < count]
        if out:
            raise LayerError(
                f"--xares-layers={self}: the encoder has {count} layer{'s' if count != 1 else ''} "
                f"(0–{count - 1}, or -1 for the last), not {', '.join(map(str, out))}"
            )
        numbers = [n % count for n in self.numbers]
        if len(set(numbers)) != len(numbers):
            raise LayerError(f"--xares-layers={self}: a layer is named twice (of {count}, -1 is {count - 1})")
        return numbers

    def stored(self) -> str | None:
        """What of the layers an embeddings entry holds: ``None`` (the output only, as it always
        has), ``"all"``, or the listed numbers: the part of a cache key that says so."""
        return None if self.last else str(self) if self.mode == "list" else "all"


#: X-ARES's protocol: the encoder's output alone.
LAST = Layers()


def exposes_layers(encoder: torch.nn.Module) -> bool:
    """Whether the encoder has a ``hidden_states`` method (it may also return them from ``forward``)."""
    return callable(getattr(encoder, "hidden_states", None))


def run_layers(encoder: torch.nn.Module, audio: torch.Tensor, all_layers: bool) -> list[torch.Tensor]:
    """The encoder's output on ``audio`` as a list of layers: every hidden state with ``all_layers``
    (one, its output, for an encoder that exposes none), else only the last. Raises ``LayerError``
    when it returns something else than a tensor or a non-empty sequence of tensors."""
    output: Any = cast(Any, encoder).hidden_states(audio) if all_layers and exposes_layers(encoder) else encoder(audio)
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, Sequence) and output and all(isinstance(t, torch.Tensor) for t in output):
        return list(output) if all_layers else [output[-1]]
    what = type(output).__name__
    if isinstance(output, Sequence):
        what = "an empty sequence" if not output else f"a {what} of {', '.join(type(t).__name__ for t in output[:3])}"
    source = "hidden_states()" if all_layers and exposes_layers(encoder) else "forward()"
    raise LayerError(
        f"{source} returned {what}; return one tensor [batch, frames, output_dim], or a sequence of them "
        f"(the hidden states, the last one being the output)"
    )
