"""The fingerprint of an encoder: a digest of what determines its outputs, part of every cache key."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def fingerprint(encoder: torch.nn.Module) -> str:
    """A digest of what determines the encoder's outputs: its code, settings and weights.

    The code is every source file that defines a class in the module tree (the user's and the
    libraries'), so editing the encoder or upgrading a library it runs on changes the digest.
    """
    import torch  # noqa: F401

    h = hashlib.sha256()
    for attribute in ("sampling_rate", "output_dim", "hop_size_in_ms"):
        h.update(f"{attribute}={getattr(encoder, attribute, None)!r};".encode())
    for name, module in encoder.named_modules():
        h.update(f"{name}:{sorted(_settings(module).items())!r};".encode())
    classes = {type(m) for m in encoder.modules()} | {type(encoder)}
    for source in sorted({_source(cls) for cls in classes}):
        h.update(source)
    for name, tensor in encoder.state_dict().items():
        _hash_tensor(h, name, tensor)
    return h.hexdigest()


def _settings(module: Any) -> dict[str, Any]:
    """Plain public settings kept on a module instance (``normalize=True``, ``chunk_seconds=30``)."""
    plain = (bool, int, float, str, type(None))
    return {
        key: value
        for key, value in vars(module).items()
        if not key.startswith("_")
        and key != "training"
        and (isinstance(value, plain) or (isinstance(value, tuple) and all(isinstance(v, plain) for v in value)))
    }


def _source(cls: type) -> bytes:
    """The text of the file that defines ``cls``; for a class without one (a notebook cell, a
    module built in memory) the class's own source, or at least its qualified name."""
    try:
        path = inspect.getsourcefile(cls)
        if path and Path(path).is_file():
            return path.encode() + b"\0" + Path(path).read_bytes()
    except TypeError:
        pass
    try:
        return inspect.getsource(cls).encode()
    except (OSError, TypeError):
        return f"{cls.__module__}.{cls.__qualname__}".encode()


def _hash_tensor(h: Any, name: str, tensor: Any) -> None:
    import torch

    if not isinstance(tensor, torch.Tensor):
        h.update(f"{name}={tensor!r};".encode())
        return
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    h.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
    if flat.numel():
        h.update(flat.view(torch.uint8).numpy())
