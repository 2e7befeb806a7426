"""The learned weighted sum of an encoder's layers (``--xares-layers=weighted``), SUPERB's way.

Its input is what a split of several layers holds, each row the layers' vectors one after another
(``[…, layers × dim]``); each layer's vector is standardised without parameters (a layer norm
without its affine part: layers differ in scale by orders of magnitude, and the weights should
compare what the layers hold, not how large it is), and the result is ``Σₗ softmax(w)ₗ · xₗ``,
``[…, dim]``. The weights start equal (``w = 0``) and train with the head. A head builds its
model on ``mixed(layers, dim, build)``, which is ``build(dim)`` for one layer.

On pooled embeddings the layers are standardised after the mean over frames (a clip task stores
one vector per layer and clip); on frames, frame by frame, as SUPERB does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class LayerMix(torch.nn.Module):
    """``[…, layers × dim]`` → ``[…, dim]``: the softmax-weighted sum of the standardised layers."""

    def __init__(self, layers: int, dim: int) -> None:
        super().__init__()
        self.layers, self.dim = layers, dim
        self.weights = torch.nn.Parameter(torch.zeros(layers))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        stacked = inputs.unflatten(-1, (self.layers, self.dim))
        normalised = torch.nn.functional.layer_norm(stacked, (self.dim,))
        return (normalised * torch.softmax(self.weights, dim=0)[:, None]).sum(dim=-2)

    def mixture(self) -> list[float]:
        """The learned weight of each layer (softmax: they sum to 1)."""
        return [float(w) for w in torch.softmax(self.weights.detach().float().cpu(), dim=0)]


def mixed(layers: int, width: int, build: Callable[[int], torch.nn.Module]) -> torch.nn.Module:
    """``build(dim)`` on rows of ``width`` values: ``LayerMix`` first where they hold several layers."""
    if layers <= 1:
        return build(width)
    if width % layers:
        raise ValueError(f"rows of {width} values cannot hold {layers} layers of one size")
    return torch.nn.Sequential(LayerMix(layers, width // layers), build(width // layers))


def mixture(model: torch.nn.Module) -> list[float] | None:
    """The layer weights a model learned (its ``LayerMix``), or ``None`` where it has none."""
    found = [m for m in model.modules() if isinstance(m, LayerMix)]
    return found[0].mixture() if found else None
