"""The fingerprint of an encoder: a digest of everything that determines its outputs, part of
every cache key, so that a changed encoder never finds an old score.

It covers

- the declared attributes and every submodule's plain settings (``normalize=True``);
- the weights: every parameter and buffer, and every other tensor or array reachable from an
  attribute of a submodule or a global of the user's code (weights kept in a plain attribute);
- the code: the source of every module of the user's own that the encoder's classes come from or
  that those modules import, followed from module to module (a helper file beside the encoder, a
  model package installed in editable mode), and the name and version of every installed
  distribution those modules use (a transformers upgrade can change a model's code).

"The user's own" is every module whose file lies outside the standard library and the
installation's site-packages. Sources are hashed by content alone, never by path, so the same
encoder in two checkouts has one fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import site
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

#: How deep lists, tuples and dicts in attributes are searched for tensors and arrays.
CONTAINER_DEPTH = 3


def fingerprint(encoder: torch.nn.Module) -> str:
    """The hex digest of what determines the encoder's outputs: its code, settings and weights."""
    h = hashlib.sha256()
    for attribute in ("sampling_rate", "output_dim", "hop_size_in_ms"):
        h.update(f"{attribute}={getattr(encoder, attribute, None)!r};".encode())
    h.update(f"class={type(encoder).__qualname__};".encode())
    for name, module in encoder.named_modules():
        h.update(f"{name}:{sorted(_settings(module).items())!r};".encode())
    user, distributions = code_of({type(m).__module__ for m in encoder.modules()})
    for source in sorted(hashlib.sha256(_source(module)).hexdigest() for module in user):
        h.update(f"source:{source};".encode())
    for distribution, release in sorted(distributions.items()):
        h.update(f"distribution:{distribution}=={release};".encode())
    for name, tensor in encoder.state_dict().items():
        _hash_array(h, name, tensor)
    for name, module in encoder.named_modules():
        for path, value in _arrays(
            vars(module), f"{name}.", CONTAINER_DEPTH, skip=("_parameters", "_buffers", "_modules")
        ):
            _hash_array(h, path, value)
    for module in sorted(user, key=lambda m: m.__name__):
        globals_ = {
            k: v
            for k, v in vars(module).items()
            if not k.startswith(("__", "@")) and not isinstance(v, (type, ModuleType)) and not callable(v)
        }
        for path, value in _arrays(globals_, "global:", CONTAINER_DEPTH):
            _hash_array(h, path, value)
    return h.hexdigest()


def code_of(roots: set[str]) -> tuple[list[ModuleType], dict[str, str]]:
    """The user's modules reachable from the modules named ``roots`` (through the modules,
    classes and functions their globals hold, submodules of a package aside), and the installed
    distributions they use, by name, with their versions."""
    user: dict[str, ModuleType] = {}
    distributions: dict[str, str] = {}
    pending, seen = list(roots), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        module = sys.modules.get(name)
        if module is None:
            continue
        kind = _kind(module)
        if kind == "installed":
            distributions.update(_distributions(name))
        if kind != "user":
            continue
        user[name] = module
        for key, value in vars(module).items():
            if key.startswith(("__", "@")):  # the import system's and pytest's assertion rewriter's
                continue
            try:
                referenced = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
            except Exception:  # an object whose attribute lookup runs code of its own
                continue
            # A package's submodules are its attributes once anything imported them: following
            # them would make the digest depend on what else the process imported.
            if isinstance(referenced, str) and not referenced.startswith(f"{name}."):
                pending.append(referenced)
    return list(user.values()), distributions


def _kind(module: ModuleType) -> str:
    """``"user"``, ``"installed"`` (in a site-packages folder) or ``"stdlib"`` (or built in)."""
    file = getattr(module, "__file__", None)
    if not file:
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        return "stdlib" if module.__name__ in sys.builtin_module_names or origin in ("built-in", "frozen") else "user"
    path = str(Path(file).resolve())
    if any(path.startswith(folder) for folder in _installed_folders()):
        return "installed"
    if any(path.startswith(folder) for folder in _stdlib_folders()):
        return "stdlib"
    return "user"


@functools.cache
def _installed_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    folders = {paths["purelib"], paths["platlib"], *site.getsitepackages(), site.getusersitepackages()}
    return tuple(str(Path(f).resolve()) + "/" for f in folders if f)


@functools.cache
def _stdlib_folders() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(str(Path(paths[key]).resolve()) + "/" for key in ("stdlib", "platstdlib"))


@functools.cache
def _top_level_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def _distributions(module_name: str) -> dict[str, str]:
    """The installed distributions that provide the top-level package of ``module_name``."""
    found = {}
    for distribution in _top_level_distributions().get(module_name.partition(".")[0], []):
        try:
            found[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            found[distribution] = "unknown"
    return found


def _source(module: ModuleType) -> bytes:
    """The text of the module's file; for a module without one (a notebook cell, a module built
    in memory) its source as inspect finds it, or at least its name."""
    file = getattr(module, "__file__", None)
    if file and Path(file).is_file():
        return Path(file).read_bytes()
    try:
        return inspect.getsource(module).encode()
    except (OSError, TypeError):
        return module.__name__.encode()


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


def _arrays(values: dict[str, Any], prefix: str, depth: int, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``(path, tensor or array)`` for every tensor and numpy array among ``values``, searched
    into lists, tuples and dicts ``depth`` levels deep."""
    import torch

    for key, value in values.items():
        if key in skip:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, (torch.Tensor, np.ndarray)):
            yield path, value
        elif depth > 0 and isinstance(value, dict):
            yield from _arrays({str(k): v for k, v in value.items()}, f"{path}.", depth - 1)
        elif depth > 0 and isinstance(value, (list, tuple)):
            yield from _arrays({str(i): v for i, v in enumerate(value)}, f"{path}.", depth - 1)


def _hash_array(h: Any, name: str, value: Any) -> None:
    import torch

    if isinstance(value, np.ndarray):
        value = torch.from_numpy(np.ascontiguousarray(value)) if value.dtype != object else None
    if not isinstance(value, torch.Tensor):
        h.update(f"{name}={value!r};".encode())
        return
    flat = value.detach().to("cpu").contiguous().reshape(-1)
    h.update(f"{name}:{flat.dtype}:{tuple(value.shape)};".encode())
    if flat.numel():
        h.update(flat.view(torch.uint8).numpy())
