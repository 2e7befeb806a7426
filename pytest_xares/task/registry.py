"""Finding task definitions: the package's own suites and a user's folder of tasks.

A task module is any ``.py`` file exposing ``TASK`` (one definition) or ``TASKS`` (several).
Importing them is cheap, so collection stays fast; no audio is touched here.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from pytest_xares.errors import XaresError
from pytest_xares.importing import import_file, module_name
from pytest_xares.task.base import Task

SUITE_PACKAGES = {"xares": "pytest_xares.tasks", "demo": "pytest_xares.tasks.demo"}


class TaskDefinitionError(XaresError):
    """A task folder or definition that cannot be used; the message names the file."""


def load_tasks(suite: str, tasks_dir: Path | None = None) -> list[Task]:
    """The tasks of ``suite`` followed by those in ``tasks_dir``; names must be unique."""
    package = importlib.import_module(SUITE_PACKAGES[suite])
    modules = [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
        if not info.ispkg and not info.name.startswith("_")
    ]
    if tasks_dir is not None:
        if not tasks_dir.is_dir():
            raise TaskDefinitionError(f"--xares-tasks-dir {tasks_dir} is not a directory")
        modules += [_import_file(path) for path in sorted(tasks_dir.glob("*.py")) if not path.name.startswith("_")]
    tasks: dict[str, Task] = {}
    for module in modules:
        for task in _tasks_of(module):
            if task.name in tasks:
                raise TaskDefinitionError(f"two tasks are named {task.name!r} (the second in {module.__file__})")
            tasks[task.name] = task
    return list(tasks.values())


def _tasks_of(module: ModuleType) -> list[Task]:
    found = getattr(module, "TASKS", None) or ([module.TASK] if hasattr(module, "TASK") else [])
    for task in found:
        if not isinstance(task, Task):
            raise TaskDefinitionError(f"{module.__file__}: {task!r} is not a task definition")
    return list(found)


def _import_file(path: Path) -> ModuleType:
    try:
        return import_file(path, module_name("_xares_user_task", path))
    except Exception as error:
        raise TaskDefinitionError(f"importing the task file {path} raised {type(error).__name__}: {error}") from error
