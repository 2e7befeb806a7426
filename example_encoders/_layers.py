"""What the wrappers that cut long inputs share: each layer's pieces joined along the frames."""

from __future__ import annotations

import torch


def join_layers(pieces: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """``pieces[k][l]``, layer ``l`` of chunk ``k`` (``[batch, frames, dim]``), joined per layer along
    the frames, in chunk order. Each layer's chunks are let go once joined (``pieces`` is emptied),
    so at most one layer is held twice."""
    layers = [list(layer) for layer in zip(*pieces)]
    pieces.clear()
    joined = []
    for layer in layers:
        joined.append(torch.cat(layer, dim=1))
        layer.clear()
    return joined
