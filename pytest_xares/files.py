"""Writing files so that no reader ever sees half of one: the one atomic writer of the package.

Every file pytest-xares writes (cache entries, record metadata, results, reports, baselines) goes
through ``write_atomic``: a temporary file with a unique name in the same folder, flushed to disk,
then renamed over the target. A killed run or a full disk leaves the old state or the complete new
file, never a torn one, and two writers of one file never share a temporary name. The file gets the
permissions the process's umask gives a new file (as pip and the Hugging Face hub do), so a cache or
data folder shared by a team or by CI runners is readable by all of them.

Nothing written here follows a symbolic link: the temporary file is created anew, the rename
replaces a link at the target rather than writing through it, and the writers that must open an
existing path (``open_own``: a download's ``.part`` file, a marker; ``locked``: every lock file)
refuse a link there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import filelock

from pytest_xares.errors import StorageError


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (at import, before any thread writes)
    os.umask(mask)
    return mask


#: Permissions of every file written: what ``open()`` would give a new file.
FILE_MODE = 0o666 & ~_umask()

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
            os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp makes 0600: follow the umask instead
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError):
            raise storage_error(error, path, option) from error
        raise


def refuse_link(path: Path, option: str) -> None:
    """Raise ``StorageError`` when ``path`` is a symbolic link: a file this package opens to write
    or lock is its own, and a link planted in a shared folder would have it write elsewhere."""
    if path.is_symlink():
        raise StorageError(
            f"refusing to write through {path}: it is a symbolic link (to {os.readlink(path)}), not a file this "
            f"package made; remove it, and check who can write to the directory that {option} names"
        )


#: Added to the flags of every such file: a symbolic link there is refused, never followed.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_own(path: Path, flags: int, option: str = "--xares-data-dir") -> int:
    """``os.open`` of a file this package writes in place (a download's ``.part`` file, a marker),
    never through a symbolic link: a link there (planted in a shared folder, say) is refused with
    ``StorageError`` saying what it is and what to do, and its target is left untouched."""
    refuse_link(path, option)
    try:
        return os.open(path, flags | NOFOLLOW, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_link(path, option)  # planted since the check
        raise


def touch_marker(path: Path, option: str = "--xares-data-dir") -> None:
    """Create an empty marker file (``.audio_tar_ready``) unless it is there; never through a link."""
    os.close(open_own(path, os.O_WRONLY | os.O_CREAT, option))


@contextlib.contextmanager
def locked(
    path: Path, option: str = "--xares-data-dir", notice: float = -1, waiting: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Hold the file lock at ``path`` while the block runs; other processes wait for it. A symbolic
    link there is refused (``StorageError``), never followed: filelock 3 opens the lock file through
    links with ``O_TRUNC``, which would empty the link's target. ``waiting()`` is called when
    another process has held it for ``notice`` seconds (``-1``: wait without a word)."""
    lock = filelock.FileLock(str(path))
    refuse_link(path, option)
    try:
        try:
            lock.acquire(timeout=notice)
        except filelock.Timeout:
            waiting()
            lock.acquire()
    except OSError as error:
        if error.errno == errno.ELOOP:
            refuse_link(path, option)  # planted since the check (filelock 4 opens with O_NOFOLLOW)
        raise
    try:
        yield
    finally:
        lock.release()


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
