"""Finding and building the encoder under evaluation.

An encoder spec is ``path.py`` (the file's one class whose name ends in ``Encoder``, as in
X-ARES), ``path.py:Class``, ``package.module`` or ``package.module:Class``; with a checkpoint
(``--xares-checkpoints``) the class is built with its path as the one argument.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pytest_xares.errors import EncoderError, UsageError
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
    #: A checkpoint's path, the one argument the class is built with (``--xares-checkpoints``).
    argument: str | None = None

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
        spec = f"{self.target}:{self.class_name}" if self.class_name else self.target
        return f"{spec}({self.argument})" if self.argument is not None else spec

    @property
    def label(self) -> str:
        """A short name: the checkpoint's file name, else the file's stem or the module's last part,
        with the class where one is named."""
        if self.argument is not None:
            return Path(self.argument).name
        base = Path(self.target).stem if self.is_file else self.target.rsplit(".", 1)[-1]
        return f"{base}:{self.class_name}" if self.class_name else base


def encoder_texts(value: Any) -> list[Any]:
    """``--xares-encoder`` values: one per flag on the command line or line of the ini setting,
    one in the environment variable, or a spec (or specs) from the Python API."""
    if isinstance(value, (str, EncoderSpec)):
        value = [value]
    return [v.strip() if isinstance(v, str) else v for v in value if not isinstance(v, str) or v.strip()]


#: What makes an encoder's path a glob of files.
GLOB = re.compile(r"[*?\[]")


def encoder_specs(texts: list[Any], checkpoints: str | None, base: Path) -> tuple[EncoderSpec, ...]:
    """The encoders of a run: each ``--xares-encoder`` value, a glob of files expanded (sorted);
    with ``checkpoints``, the one encoder's class built once per checkpoint the glob matches.
    Raises ``UsageError`` for a glob that matches nothing and for an encoder given twice."""
    specs: list[EncoderSpec] = []
    for text in texts:
        if isinstance(text, EncoderSpec):
            specs.append(text)
            continue
        spec = EncoderSpec.parse(text, base)
        if spec.is_file and GLOB.search(spec.target):
            found = sorted(p for p in Path(spec.target).parent.glob(Path(spec.target).name) if p.is_file())
            if not found:
                raise UsageError(f"--xares-encoder: {text!r} matches no file")
            specs += [EncoderSpec(str(p), spec.class_name) for p in found]
        else:
            specs.append(spec)
    if checkpoints is not None:
        if len(specs) != 1:
            raise UsageError("--xares-checkpoints needs one --xares-encoder: the class each checkpoint is built with")
        pattern = Path(checkpoints).expanduser()
        pattern = pattern if pattern.is_absolute() else base / pattern
        found = sorted(pattern.parent.glob(pattern.name))
        if not found:
            raise UsageError(f"--xares-checkpoints: {checkpoints!r} matches no file or folder")
        specs = [dataclasses.replace(specs[0], argument=str(p.resolve())) for p in found]
    twice = sorted({str(s) for s in specs if specs.count(s) > 1})
    if twice:
        raise UsageError(f"--xares-encoder: {', '.join(twice)} is given twice")
    return tuple(specs)


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
    """Import and construct the encoder (no arguments, or the spec's checkpoint), reporting
    failures as ``EncoderError``."""
    import torch  # noqa: F401  (encoder files expect it importable; loads it once, here)

    cls = load_class(spec)
    arguments = () if spec.argument is None else (spec.argument,)
    try:
        return cls(*arguments)
    except (Exception, SystemExit) as error:
        called = f"{cls.__name__}({', '.join(map(repr, arguments))})"
        raise EncoderError(f"constructing {called} raised {describe_error(error)}") from error


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
