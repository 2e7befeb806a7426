"""A task's shards in place before it runs: found, fetched from its Zenodo record, or (demo
tasks) synthesised on first use."""

from __future__ import annotations

import inspect
import shutil
import tempfile
from pathlib import Path

from pytest_xares.data.fetch import ensure_task_data
from pytest_xares.data.shards import find_shards
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.errors import MissingData
from pytest_xares.files import locked, make_folder, storage_error
from pytest_xares.hashing import digest
from pytest_xares.task import Task

SYNTHESIS_STAMP = ".synthesis"


def prepare_data(task: Task, data_dir: Path, zenodo: Zenodo | None = None) -> dict[str, list[Path]]:
    """The shards of each split pattern: a demo task's are synthesised on first use, a real task's
    are found in the data directory or fetched from its Zenodo record (``zenodo=None``: offline).

    Raises ``MissingData`` with what to do when the shards are absent and cannot be fetched.
    """
    folder = data_dir / task.data_folder
    if task.source is None:
        folder = Path(ensure_task_data(task, data_dir, zenodo).folder)
    elif _synthesis_stamp(folder) != synthesis_version(task):
        _synthesise(task, folder)
    try:
        return {pattern: find_shards(folder, pattern) for pattern in task.splits.patterns()}
    except MissingData as missing:
        raise MissingData(
            f"{task.formal_name}: {missing}; the task's split patterns match none of the files there"
        ) from None


def synthesis_version(task: Task) -> str:
    """What synthesised data depends on: the task definition, the synthesiser's whole module, and
    the modules of its package that it takes names from (a demo task writes with the helpers of
    ``pytest_xares.tasks.demo._synthesis``)."""
    module = inspect.getmodule(task.source)
    if module is None:
        return digest(task.fingerprint(), repr(task.source))
    package = module.__name__.rpartition(".")[0]
    used = {module.__name__: module}
    if package:  # a top-level module (a user's file) counts alone: its neighbours are anyone's
        for value in vars(module).values():
            other = inspect.getmodule(value)
            if other is not None and other.__name__.rpartition(".")[0] == package:
                used[other.__name__] = other
    return digest(task.fingerprint(), [inspect.getsource(used[name]) for name in sorted(used)])


def _synthesis_stamp(folder: Path) -> str | None:
    try:
        return (folder / SYNTHESIS_STAMP).read_text("utf-8")
    except OSError:
        return None


def _synthesise(task: Task, folder: Path) -> None:
    """Write the shards into a fresh folder beside the target and swap it into place.

    Data synthesised by another version of the task or synthesiser is replaced, so an upgrade
    never evaluates stale demo data; a reader of the old folder sees it whole until the swap.
    A failed write (a full disk) is a ``StorageError`` saying what to do, and leaves no staging
    folder behind.
    """
    make_folder(folder.parent, "--xares-data-dir")
    version = synthesis_version(task)
    with locked(folder.parent / f".{folder.name}.lock"):  # a link planted there is refused, not followed
        if _synthesis_stamp(folder) == version:
            return  # another process made it while we waited
        try:
            staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        except OSError as error:
            raise storage_error(error, folder.parent, "--xares-data-dir") from error
        retired = folder.with_name(f".{folder.name}.old")
        try:
            assert task.source is not None
            task.source(task, staging)
            (staging / SYNTHESIS_STAMP).write_text(version, "utf-8")
            shutil.rmtree(retired, ignore_errors=True)
            if folder.exists():
                folder.rename(retired)
            staging.rename(folder)
        except OSError as error:
            failed = Path(error.filename) if isinstance(error.filename, str) else staging
            raise storage_error(error, failed, "--xares-data-dir") from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(retired, ignore_errors=True)
