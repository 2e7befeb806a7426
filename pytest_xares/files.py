"""Writing files so that no reader ever sees half of one: the one atomic writer of the package.

Every file pytest-xares writes (cache entries, record metadata, results, reports, baselines) goes
through ``write_atomic``: a temporary file with a unique name in the same folder, flushed to disk,
then renamed over the target. A killed run or a full disk leaves the old state or the complete new
file, never a torn one, and two writers of one file never share a temporary name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pytest_xares.errors import StorageError

#: What ``write_atomic`` writes: bytes, text (UTF-8), or a function that writes to the open file.
Content = bytes | str | Callable[[BinaryIO], object]


def write_atomic(path: Path, content: Content, option: str = "--xares-cache-dir") -> None:
    """Write ``content`` to ``path`` through a temporary sibling renamed into place once complete.

    Any failure removes the temporary file and leaves ``path`` as it was; an ``OSError`` becomes a
    ``StorageError`` that names the file and says what to do about ``option``'s directory.
    """
    make_folder(path.parent, option)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise storage_error(error, path, option) from error
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise storage_error(error, path, option) from error
        raise


def make_folder(folder: Path, option: str = "--xares-cache-dir") -> None:
    """Create ``folder`` and its parents; a failure is a ``StorageError`` with advice."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise storage_error(error, folder, option) from error


def storage_error(error: OSError, path: Path, option: str) -> StorageError:
    return StorageError(f"cannot write {path}: {error.strerror or error}; {disk_advice(error, option)}")


def disk_advice(error: OSError, option: str) -> str:
    """What to do about a failed write under the directory that ``option`` sets."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space or point {option} at a larger disk"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make it writable or point {option} elsewhere"
    return f"check the directory that {option} names"
