"""Finding and building the encoder under evaluation.

An encoder spec is ``path.py`` (the file's one class whose name ends in ``Encoder``, as in
X-ARES), ``path.py:Class``, ``package.module`` or ``package.module:Class``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pytest_xares.errors import EncoderError
from pytest_xares.importing import import_file, module_name

if TYPE_CHECKING:  # torch loads on first use: the plugin stays cheap where it is inert
    import torch

__all__ = ["EncoderError", "EncoderSpec", "LoadedEncoder", "build", "describe_error", "load_class"]


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
    except (Exception, SystemExit) as error:
        raise EncoderError(f"constructing {cls.__name__}() raised {describe_error(error)}") from error


def _import(spec: EncoderSpec) -> ModuleType:
    if spec.is_file:
        path = Path(spec.target)
        if not path.is_file():
            raise EncoderError(f"encoder file {path} does not exist")
        try:
            # The encoder's folder goes on the path so that it can import its sibling modules.
            return import_file(path, module_name("_xares_encoder", path), importable_folder=True)
        except (Exception, SystemExit) as error:
            raise EncoderError(f"importing {path} raised {describe_error(error)}") from error
    try:
        return importlib.import_module(spec.target)
    except (Exception, SystemExit) as error:
        raise EncoderError(f"importing module {spec.target!r} raised {describe_error(error)}") from error


def describe_error(error: BaseException) -> str:
    """``Type: message (at file:line)`` for the innermost frame of the error's traceback."""
    frames = inspect.getinnerframes(error.__traceback__) if error.__traceback__ else []
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
