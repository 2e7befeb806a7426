"""Fetching a Zenodo record whole: metadata first, then each file, resumed, retried, md5-checked.

Every file is downloaded to a hidden ``.<name>.part`` beside its final name, checked against the
record's md5 and only then renamed into place, so a file at its final name is always complete.
A dropped connection resumes with an HTTP ``Range`` request; 429 and 5xx answers are retried with
exponential backoff (``Retry-After`` honoured) until a bounded time has passed without progress.
A file lock per record makes concurrent workers and runs download it once::

    from pathlib import Path
    from pytest_xares.data.zenodo import Zenodo

    Zenodo("https://zenodo.org").download_record(14614287, Path("data/esc50"))
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pytest_xares.data.records import (
    RECORD_FILE,
    XARES_READY,
    Record,
    RecordError,
    RecordFile,
    read_record,
    write_record,
)
from pytest_xares.data.retries import Backoff, Fatal, GiveUp, Retries, Retryable, classify
from pytest_xares.data.transfer import Listener, Quiet, TransferMeter, duration, human_bytes
from pytest_xares.errors import MissingData, StorageError
from pytest_xares.files import disk_advice, locked, open_own, refuse_link, touch_marker
from pytest_xares.version import __version__

USER_AGENT = f"pytest-xares/{__version__}"
CHUNK = 1 << 20
#: Seconds a blocked socket operation may take before the attempt counts as failed.
TIMEOUT = 60.0
#: Seconds to wait for another process's lock before saying so.
LOCK_NOTICE = 1.0

T = TypeVar("T")


class DownloadError(MissingData):
    """A record could not be fetched; the message says what failed and what to do next."""


BACKOFF = Backoff()


@dataclass(frozen=True)
class Fetched:
    record: int
    files: int  # files downloaded now
    bytes: int  # bytes received now
    seconds: float


class Zenodo:
    """A Zenodo server (or a mirror serving the same API paths) and the downloads from it."""

    def __init__(
        self,
        url: str,
        listener: Listener | None = None,
        backoff: Backoff | None = None,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.listener = listener or Quiet()
        self._backoff, self._timeout, self.sleep = backoff, timeout, sleep
        self._failed: dict[int, str] = {}  # a record that failed is not retried for minutes by each item

    @property
    def backoff(self) -> Backoff:
        return self._backoff or BACKOFF

    @property
    def timeout(self) -> float:
        return self._timeout or TIMEOUT

    def download_record(self, record_id: int, folder: Path) -> Fetched:
        """Fetch every file of the record missing from ``folder``; raises ``DownloadError``."""
        if record_id in self._failed:
            raise DownloadError(self._failed[record_id])
        try:
            return self._download_record(record_id, folder)
        except DownloadError as error:
            self._failed[record_id] = str(error)
            raise

    def metadata(self, record_id: int) -> dict[str, Any]:
        """The ``/api/records/{id}`` answer."""
        url = f"{self.url}/api/records/{record_id}"

        def attempt() -> dict[str, Any]:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
            try:
                return json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise DownloadError(
                    f"{url} did not answer with JSON: is {self.url} a Zenodo API (--xares-zenodo-url)?"
                ) from None

        try:
            return self._retrying(attempt, what=f"Zenodo record {record_id}")
        except Fatal as fatal:
            if fatal.status == 404:
                raise DownloadError(
                    f"{url} answered 404: there is no Zenodo record {record_id} there. Check the task's record id, "
                    f"or whether the mirror (--xares-zenodo-url={self.url}) holds it"
                ) from None
            raise DownloadError(f"cannot read Zenodo record {record_id} from {url}: {fatal}") from None
        except GiveUp as gave_up:
            raise DownloadError(
                f"cannot read Zenodo record {record_id} from {url}: {gave_up}. {self._advice()}"
            ) from None

    # A record -------------------------------------------------------------------------------

    def _download_record(self, record_id: int, folder: Path) -> Fetched:
        started = time.monotonic()
        _disk(lambda: folder.mkdir(parents=True, exist_ok=True), folder)
        with self._locked(record_id, folder):
            record = self._record(record_id, folder)
            todo = record.missing(folder)
            remaining = sum(f.size - _part_size(folder, f) for f in todo)
            free = shutil.disk_usage(folder).free
            if remaining > free:
                raise DownloadError(
                    f"Zenodo record {record_id} needs {human_bytes(remaining)} more in {folder}, but only "
                    f"{human_bytes(free)} are free: free some space or point --xares-data-dir at a larger disk"
                )
            counter = TransferMeter(self.listener, f"downloading Zenodo record {record_id} into {folder}", remaining)
            # A verified file is flushed to disk and renamed into place while the next one downloads.
            with ThreadPoolExecutor(1) as installer:
                installs = [
                    installer.submit(self._fetch_file(record_id, f, folder, counter).install, folder / f.key)
                    for f in todo
                ]
            for install in installs:
                install.result()  # raises the first failure (DownloadError)
            _disk(lambda: touch_marker(folder / XARES_READY), folder / XARES_READY)
        return Fetched(record_id, len(todo), counter.done, time.monotonic() - started)

    def _record(self, record_id: int, folder: Path) -> Record:
        """The record's metadata: kept in ``folder``, or fetched and kept there now."""
        kept = read_record(folder)
        if kept is not None and kept.id not in (None, record_id):
            raise DownloadError(
                f"{folder} holds the files of Zenodo record {kept.id}, not {record_id}: move them away or "
                f"give the task its own folder"
            )
        if kept is not None:
            return kept
        raw = self.metadata(record_id)
        try:
            record = Record.parse(raw)
        except RecordError as error:
            raise DownloadError(f"Zenodo record {record_id} from {self.url}: {error}") from None
        _disk(lambda: write_record(folder, raw), folder)
        return record

    @contextlib.contextmanager
    def _locked(self, record_id: int, folder: Path) -> Iterator[None]:
        """One download per record: other workers and runs wait here, then find the files in place."""
        path = folder.parent / f".zenodo-{record_id}.lock"

        def waiting() -> None:
            self.listener.note(
                f"waiting for another process that is downloading Zenodo record {record_id} into {folder}"
            )

        with contextlib.ExitStack() as stack:  # a link planted at the lock's path is refused, not followed
            _disk(lambda: stack.enter_context(locked(path, notice=LOCK_NOTICE, waiting=waiting)), path)
            yield

    # A file ---------------------------------------------------------------------------------

    def _fetch_file(self, record_id: int, file: RecordFile, folder: Path, counter: TransferMeter) -> _Part:
        """The file, complete and verified, still at its temporary name."""
        part = _Part(folder, file)
        url = self._file_url(record_id, file)
        corrupt: list[str] = []

        def attempt() -> None:
            try:
                if part.size < file.size:
                    self._get(url, part, file.size, counter)
            except urllib.error.HTTPError as error:
                if error.code != 416:
                    raise
                part.restart()  # the server would not resume: take the whole file next time
                raise Retryable("the server refused to resume the file (HTTP 416)") from None
            if part.size < file.size:
                raise Retryable(f"the connection dropped after {human_bytes(part.size)} of {human_bytes(file.size)}")
            got = part.hasher.hexdigest() if part.size == file.size else f"a file of {part.size} bytes"
            if got != file.md5:
                part.restart()  # a corrupt file is never kept, let alone used
                corrupt.append(got)
                if len(corrupt) == 2:
                    raise DownloadError(
                        f"{file.key} of Zenodo record {record_id} from {url} arrived corrupt twice (md5 {corrupt[0]}, "
                        f"then {corrupt[1]}; the record says {file.md5}). It was deleted, not used. The server or "
                        f"mirror holds a damaged copy: try again later or another --xares-zenodo-url"
                    )
                raise Retryable(f"its md5 is {got}, the record says {file.md5}: fetching it again")

        try:
            self._retrying(attempt, position=lambda: part.size, what=f"{file.key} of Zenodo record {record_id}")
            return part
        except (Fatal, GiveUp) as failure:
            kept = (
                f" The {human_bytes(part.size)} received are kept in {part.path}; the next run resumes there."
                if part.size
                else ""
            )
            again = "try again later (the download resumes where it stopped)" if isinstance(failure, GiveUp) else ""
            raise DownloadError(
                f"cannot download {file.key} of Zenodo record {record_id} from {url}: {failure}.{kept} "
                f"{self._advice(folder, again)}"
            ) from None

    def _file_url(self, record_id: int, file: RecordFile) -> str:
        """The file's URL on this server: a mirror may serve zenodo.org's metadata verbatim."""
        path = urllib.parse.urlsplit(file.link).path if file.link else ""
        if "/api/" not in path:
            path = f"/api/records/{record_id}/files/{urllib.parse.quote(file.key)}/content"
        return self.url + path[path.index("/api/") :]

    def _get(self, url: str, part: _Part, size: int, counter: TransferMeter) -> None:
        headers = {"User-Agent": USER_AGENT}
        if part.size:
            headers["Range"] = f"bytes={part.size}-"
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self.timeout) as response:
            if part.size and not _resumes_at(response, part.size):
                part.restart()  # the server ignored the range and sends the whole file
            part.append(response, size, counter)

    # Retries --------------------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], T], what: str, position: Callable[[], int] = lambda: 0) -> T:
        """``attempt()`` until it succeeds; raises ``Fatal`` or ``GiveUp`` with the reason."""
        retries = Retries(self.backoff)
        while True:
            before = position()
            try:
                return attempt()
            except (Retryable, urllib.error.URLError, http.client.HTTPException, OSError) as error:
                failure = classify(error)
            delay = retries.delay(failure, progressed=position() > before)
            self.listener.note(f"{what}: {failure}; retrying in {duration(delay)}")
            self.sleep(delay)

    def _advice(self, folder: Path | None = None, first: str = "") -> str:
        steps = [first] if first else []
        steps.append("point --xares-zenodo-url at a mirror that serves the same API paths")
        if folder is not None:
            steps.append(f"put the record's files into {folder} yourself (names and md5 in {folder / RECORD_FILE})")
        steps.append(
            "without network, run with --xares-offline and fetch the data elsewhere with --xares-download-only"
        )
        return "What to do: " + "; or ".join(steps) + "."


class _Part:
    """A file being downloaded: its bytes so far at ``.<name>.part`` beside the target, and their md5."""

    def __init__(self, folder: Path, file: RecordFile) -> None:
        self.path = _part_path(folder, file)
        _disk(lambda: refuse_link(self.path, "--xares-data-dir"), self.path)  # never written or read through
        self.size = _part_size(folder, file)
        if self.size > file.size:
            self.restart()
        # A part left by an earlier, interrupted run: its bytes are hashed once, then resumed.
        self.hasher = hashlib.md5()
        if self.size:
            with self._open(os.O_RDONLY, "rb") as handle:
                while block := handle.read(CHUNK):
                    self.hasher.update(block)

    def _open(self, flags: int, mode: str) -> Any:
        """The part file opened with ``flags``, never through a symbolic link (``DownloadError``)."""
        return _disk(lambda: os.fdopen(open_own(self.path, flags), mode), self.path)

    def restart(self) -> None:
        self.path.unlink(missing_ok=True)
        self.size, self.hasher = 0, hashlib.md5()

    def append(self, response: Any, limit: int, counter: TransferMeter) -> None:
        """Append the response's body (network errors propagate: the caller retries).

        Each chunk is hashed in a helper thread while the next one arrives and is written (hashlib
        releases the GIL), so the md5 costs no throughput until it is the slowest step.
        """
        hashing: Future[None] | None = None
        with ThreadPoolExecutor(1) as hasher, self._open(os.O_WRONLY | os.O_CREAT | os.O_APPEND, "ab") as out:
            while self.size <= limit and (chunk := response.read1(CHUNK)):  # what has arrived, up to CHUNK
                _disk(lambda: out.write(chunk), self.path)
                if hashing is not None:
                    hashing.result()  # one chunk in flight: memory stays bounded
                hashing = hasher.submit(self.hasher.update, chunk)
                self.size += len(chunk)
                counter.add(len(chunk))
        # Leaving the executor waited for the last chunk: the md5 covers exactly `size` bytes.

    def install(self, target: Path) -> None:
        """Flush to disk, then rename into place: a file at its final name survives a crash whole.
        An empty file, never requested, is created here."""

        def flush_and_rename() -> None:
            fd = open_own(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.path.replace(target)

        _disk(flush_and_rename, target)


def _resumes_at(response: Any, offset: int) -> bool:
    """The answer is the requested range: 206 with a ``Content-Range`` starting at ``offset``."""
    content_range = response.headers.get("Content-Range", "")
    return response.status == 206 and content_range.startswith(f"bytes {offset}-")


def _part_path(folder: Path, file: RecordFile) -> Path:
    return folder / f".{file.key}.part"


def _part_size(folder: Path, file: RecordFile) -> int:
    """The bytes of the part file so far; a link there counts none (it is refused, not followed)."""
    try:
        found = _part_path(folder, file).lstat()
    except OSError:
        return 0
    return found.st_size if stat.S_ISREG(found.st_mode) else 0


def _disk(action: Callable[[], T], path: Path) -> T:
    """Run a local file operation; a failure becomes a ``DownloadError`` that says what to do."""
    try:
        return action()
    except OSError as error:
        advice = disk_advice(error, "--xares-data-dir")
        raise DownloadError(f"cannot write {path}: {error.strerror or error}; {advice}") from error
    except StorageError as error:  # from the atomic writer, with the same advice
        raise DownloadError(str(error)) from error
