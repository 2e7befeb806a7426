"""Importing a Python file as a module: the one importer of encoder files and task folders."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def import_file(path: Path, name: str, importable_folder: bool = False) -> ModuleType:
    """Execute ``path`` as the module ``name`` (registered in ``sys.modules``, as dataclasses and
    pickling expect) and return it; an already imported ``name`` is returned as it is.

    ``importable_folder`` puts the file's folder on ``sys.path`` so that it can import its
    sibling modules. Whatever the file raises (``SystemExit`` included) propagates, and the
    half-executed module is removed, so a later import starts afresh.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if importable_folder and str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def module_name(prefix: str, path: Path) -> str:
    """A module name for the file at ``path`` keyed by its place and content: an edited file is
    a new module, also within one process."""
    key = hashlib.sha256(str(path.resolve()).encode() + path.read_bytes()).hexdigest()[:16]
    return f"{prefix}_{key}_{path.stem}" if path.stem.isidentifier() else f"{prefix}_{key}"
