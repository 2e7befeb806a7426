"""Finding, building and fingerprinting the encoder under evaluation.

An encoder spec is ``path.py`` (the file's one class whose name ends in ``Encoder``, as in
X-ARES), ``path.py:Class``, ``package.module`` or ``package.module:Class``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads on first use: the plugin stays cheap where it is inert
    import torch


class EncoderError(RuntimeError):
    """The encoder cannot be found, built or called; the message says what to fix."""


@dataclass
class LoadedEncoder:
    """The built encoder, in eval mode on its device, with the fingerprint of what it computes."""

    module: torch.nn.Module
    fingerprint: str
    device: torch.device


@dataclass(frozen=True)
class EncoderSpec:
    """Where the encoder class is: a file (absolute) or a module name, and maybe a class name."""

    target: str
    class_name: str | None = None

    @classmethod
    def parse(cls, spec: str, base: Path) -> EncoderSpec:
        """Parse a spec given on the command line; relative file paths resolve against ``base``."""
        head, separator, tail = spec.rpartition(":")
        # Only an identifier after the last colon names a class ("C:\\enc.py" is a path).
        target, class_name = (head, tail) if separator and tail.isidentifier() else (spec, "")
        if target.endswith(".py") or "/" in target or "\\" in target:
            target = str((base / target).resolve())
        return cls(target, class_name or None)

    @property
    def is_file(self) -> bool:
        return self.target.endswith(".py")

    def __str__(self) -> str:
        return f"{self.target}:{self.class_name}" if self.class_name else self.target


def load_class(spec: EncoderSpec) -> type:
    """Import the module of ``spec`` and pick the encoder class from it."""
    module = _import(spec)
    if spec.class_name:
        found = getattr(module, spec.class_name, None)
        if not inspect.isclass(found):
            raise EncoderError(f"{spec.target} has no class {spec.class_name!r}")
        return found
    candidates = [
        obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and name.endswith("Encoder") and obj.__module__ == module.__name__
    ]
    if len(candidates) != 1:
        names = ", ".join(c.__name__ for c in candidates) or "none"
        raise EncoderError(
            f"{spec.target} must define exactly one class whose name ends in 'Encoder' (found: {names}); "
            f"name the class explicitly: --xares-encoder={spec.target}:ClassName"
        )
    return candidates[0]


def build(spec: EncoderSpec) -> torch.nn.Module:
    """Import and construct the encoder (no arguments), reporting failures as ``EncoderError``."""
    import torch  # noqa: F401  (encoder files expect it importable; loads it once, here)

    cls = load_class(spec)
    try:
        return cls()
    except Exception as error:
        raise EncoderError(f"constructing {cls.__name__}() raised {_describe(error)}") from error


def _import(spec: EncoderSpec) -> ModuleType:
    if spec.is_file:
        path = Path(spec.target)
        if not path.is_file():
            raise EncoderError(f"encoder file {path} does not exist")
        # Keyed by content too: an edited file is a new module, also within one process.
        name = f"_xares_encoder_{hashlib.sha256(str(path).encode() + path.read_bytes()).hexdigest()[:16]}"
        if name in sys.modules:
            return sys.modules[name]
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        # The encoder's folder goes on the path so that it can import its sibling modules.
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        try:
            module_spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise EncoderError(f"importing {path} raised {_describe(error)}") from error
        return module
    try:
        return importlib.import_module(spec.target)
    except Exception as error:
        raise EncoderError(f"importing module {spec.target!r} raised {_describe(error)}") from error


def _describe(error: BaseException) -> str:
    """``Type: message (at file:line)`` for the innermost frame of the error's traceback."""
    frames = inspect.getinnerframes(error.__traceback__) if error.__traceback__ else []
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def describe_error(error: BaseException) -> str:
    return _describe(error)


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
        if not key.startswith("_") and key != "training"
        and (isinstance(value, plain) or isinstance(value, tuple) and all(isinstance(v, plain) for v in value))
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
