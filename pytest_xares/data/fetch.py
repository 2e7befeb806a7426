"""A task's data in place: found where it already is, fetched from its Zenodo record, or verified.

A record lives in ``<data dir>/<task.data_folder>``: the task's name, unless tasks share a record,
in which case they name the same ``folder`` and the record is stored and fetched once
(LibriSpeech-MF uses ``librispeech``, the folder of the LibriSpeech-ASR task of the same record).
A folder named after the task itself is looked at too, since that is where X-ARES keeps it, so an
X-ARES ``env/`` directory serves as the data directory without any download.

A folder is complete when every file of the record metadata kept in it is there with its size
(files are moved into place only once their md5 matched), or, without metadata (X-ARES ``env/``,
files placed by hand), when every split finds its shards.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_xares.data.records import RECORD_FILE, Record, RecordError, hash_file, read_record, write_record
from pytest_xares.data.shards import find_shards
from pytest_xares.data.transfer import Listener, Quiet, TransferMeter, human_bytes
from pytest_xares.data.zenodo import DownloadError, Zenodo
from pytest_xares.errors import DataError, MissingData
from pytest_xares.task import Task


class VerifyError(DataError):
    """Files of a data folder do not match their record's checksums (or are missing)."""


@dataclass(frozen=True)
class DataOutcome:
    """What ``--xares-download-only`` or ``--xares-verify-data`` did for one task."""

    task: str
    folder: str
    state: str  # "present", "downloaded" or "verified"
    record: int | None = None
    files: int = 0  # files downloaded or verified
    bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_folders(task: Task, data_dir: Path) -> list[Path]:
    """Where the task's data may be: its data folder, then (X-ARES's layout) the folder of its name."""
    return list(dict.fromkeys((data_dir / task.data_folder, data_dir / task.name)))


def ensure_task_data(task: Task, data_dir: Path, zenodo: Zenodo | None) -> DataOutcome:
    """Find the task's complete data, or fetch its record (``zenodo=None``: offline, never).

    Raises ``MissingData`` saying what is missing and what to do, ``DownloadError`` when a fetch fails.
    """
    started = time.monotonic()
    folders = candidate_folders(task, data_dir)
    for folder in folders:
        if is_complete(task, folder):
            return DataOutcome(task.name, str(folder), "present", task.record)
    home = folders[0]
    missing = f"{task.formal_name}: {describe_missing(task, home)}"
    if task.private:
        raise MissingData(f"{missing}. {task.name} is a private task: place its shards in {home} to run it")
    if task.record is None:
        raise MissingData(f"{missing}. The task names no Zenodo record: place its shards in {home}")
    if zenodo is None:
        raise MissingData(
            f"{missing}. Offline (--xares-offline), so Zenodo record {task.record} ({record_page(task.record)}) "
            f"was not fetched: run `pytest --xares-download-only -k {task.name}` with the same --xares-data-dir "
            f"where there is network, or put the record's files into {home}"
        )
    fetched = zenodo.download_record(task.record, home)
    state = "downloaded" if fetched.files else "present"  # another process may have fetched it meanwhile
    return DataOutcome(task.name, str(home), state, task.record, fetched.files, fetched.bytes, _since(started))


def verify_task_data(
    task: Task, data_dir: Path, zenodo: Zenodo | None, listener: Listener | None = None
) -> DataOutcome:
    """Check every file of the task's record by size and md5; raises ``VerifyError`` naming the bad ones.

    Without metadata in the folder it is fetched (unless offline) and kept once everything matched.
    """
    started = time.monotonic()
    folder = next((f for f in candidate_folders(task, data_dir) if f.is_dir()), None)
    if folder is None:
        raise MissingData(f"{task.formal_name}: nothing to verify, no data folder {data_dir / task.data_folder}")
    record, raw = read_record(folder), None
    if record is None:
        raw = _metadata_for(task, folder, zenodo)
        try:
            record = Record.parse(raw)
        except RecordError as error:
            raise DownloadError(f"{task.formal_name}: Zenodo record {task.record}: {error}") from None
    meter = TransferMeter(listener or Quiet(), f"verifying {task.name} in {folder}", record.size)
    problems = []
    for file in record.files:
        path = folder / file.key
        if not path.is_file():
            problems.append(f"{file.key} is missing")
        elif path.stat().st_size != file.size:
            problems.append(f"{file.key} has {path.stat().st_size} bytes, not {file.size}")
        elif (md5 := hash_file(path, meter.add).hexdigest()) != file.md5:
            problems.append(f"{file.key} has md5 {md5}, not {file.md5}")
    if problems:
        raise VerifyError(
            f"{task.formal_name}: {len(problems)} of {len(record.files)} files in {folder} do not match the record's "
            f"checksums: {'; '.join(problems)}. Delete the damaged files and fetch them again with "
            f"`pytest --xares-download-only -k {task.name}`"
        )
    if raw is not None:  # verified: from now on offline runs and cache keys can rely on it
        with contextlib.suppress(OSError):  # a read-only X-ARES env/ stays as it is
            write_record(folder, raw)
    return DataOutcome(task.name, str(folder), "verified", record.id, len(record.files), meter.done, _since(started))


def is_complete(task: Task, folder: Path) -> bool:
    """Every file of the record kept in ``folder`` is there, or (without metadata) every split has shards."""
    record = read_record(folder)
    if record is not None and record.id in (None, task.record):
        return not record.missing(folder)
    try:
        for pattern in task.splits.patterns():
            find_shards(folder, pattern)
    except MissingData:
        return False
    return True


def describe_missing(task: Task, folder: Path) -> str:
    """Which files (when the record's metadata is known) or which splits are missing."""
    record = read_record(folder)
    if record is not None:
        absent = record.missing(folder)
        names = ", ".join(f.key for f in absent[:6]) + (f", … ({len(absent)} in all)" if len(absent) > 6 else "")
        size = human_bytes(sum(f.size for f in absent))
        return f"{len(absent)} of {len(record.files)} files of its record are missing from {folder} ({size}): {names}"
    for pattern in task.splits.patterns():
        try:
            find_shards(folder, pattern)
        except MissingData as missing:
            return str(missing)
    return f"incomplete data in {folder}"


def record_page(record: int) -> str:
    return f"https://zenodo.org/records/{record}"


def summary(outcomes: list[dict[str, Any]]) -> str:
    """The table printed after ``--xares-download-only`` or ``--xares-verify-data``."""
    rows = [
        [
            o["task"],
            o["state"],
            o["record"] or "–",
            o["files"] or "–",
            human_bytes(o["bytes"]) if o["bytes"] else "–",
            f"{o['seconds']:.1f} s",
            o["folder"],
        ]
        for o in sorted(outcomes, key=lambda o: o["task"])
    ]
    moved = sum(o["bytes"] for o in outcomes)
    seconds = sum(o["seconds"] for o in outcomes if o["bytes"])
    total = f"\n{human_bytes(moved)} in {seconds:.1f} s ({human_bytes(moved / seconds)}/s)" if moved and seconds else ""
    return (
        tabulate(rows, headers=["task", "state", "record", "files", "bytes", "time", "folder"], tablefmt="github")
        + total
    )


def _metadata_for(task: Task, folder: Path, zenodo: Zenodo | None) -> dict[str, Any]:
    if task.record is None:
        kind = "a private task" if task.private else "a task without a Zenodo record"
        raise MissingData(f"{task.formal_name}: no checksums to verify {folder} against ({kind}, no {RECORD_FILE})")
    if zenodo is None:
        raise MissingData(
            f"{task.formal_name}: no {RECORD_FILE} in {folder} and offline (--xares-offline): verify once with "
            f"network; the record's metadata is then kept there for offline runs"
        )
    return zenodo.metadata(task.record)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
