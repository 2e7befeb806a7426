"""Datasets from Zenodo arrive whole: checked, resumed, retried, fetched once, served by mirrors, or
not fetched at all when offline. Every test talks to a fake Zenodo on 127.0.0.1 (``zenodo``)."""

from __future__ import annotations

import email.utils
import hashlib
import io
import json
import multiprocessing
import os
import queue
import re
import threading
import time
from pathlib import Path

import pytest

from pytest_xares.data import zenodo as downloader
from pytest_xares.data.fetch import VerifyError, ensure_task_data, verify_task_data
from pytest_xares.data.records import RECORD_FILE, XARES_READY, read_record
from pytest_xares.data.shards import MissingData
from pytest_xares.data.transfer import Quiet
from pytest_xares.data.zenodo import Backoff, DownloadError, Zenodo
from pytest_xares.engine.progress import Progress
from pytest_xares.task import ClipTask, splits
from pytest_xares.task.registry import load_tasks
from pytest_xares.testing import BANDS_ENCODER, encoder_file, write_tone_shard
from pytest_xares.testing.zenodo_server import Fault, ZenodoServer

FILES = {f"part{i}.tar": os.urandom(150_000 + i) for i in range(3)}

RECORD_TASK = """
from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="{name}",
    formal_name="{name} tones",
    record={record},
    splits=splits("{name}_train", "{name}_valid", "{name}_test"),
    label="label",
    classes=("a", "b", "c"),
    weight=10,
    epochs=3,
)
"""


class Notes(Quiet):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)


def client(server: ZenodoServer, **kwargs: object) -> tuple[Zenodo, list[float]]:
    """A downloader whose waits are recorded instead of slept."""
    waits: list[float] = []
    return Zenodo(server.url, sleep=waits.append, **kwargs), waits  # type: ignore[arg-type]


def assert_whole(folder: Path, files: dict[str, bytes]) -> None:
    for key, data in files.items():
        assert (folder / key).read_bytes() == data
    assert not list(folder.glob(".*.part"))


def test_a_record_arrives_whole_with_its_metadata_beside_it(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    fetched = Zenodo(zenodo.url).download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    record = read_record(tmp_path / "task")
    assert record is not None and record.id == 1
    assert {f.key: f.md5 for f in record.files} == {k: hashlib.md5(v).hexdigest() for k, v in FILES.items()}
    assert (tmp_path / "task" / XARES_READY).exists()
    assert (fetched.files, fetched.bytes) == (3, sum(map(len, FILES.values())))
    assert [zenodo.count(key) for key in FILES] == [1, 1, 1] and zenodo.count(None) == 1
    Zenodo(zenodo.url).download_record(1, tmp_path / "task")  # complete: the metadata kept, nothing fetched
    assert len(zenodo.hits) == 4


def test_a_dropped_connection_resumes_with_a_range_request(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part1.tar", Fault(drop_after=60_000))
    download, _waits = client(zenodo)
    download.download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    first, second = [h for h in zenodo.hits if h.key == "part1.tar"]
    assert (first.status, first.sent, first.range) == (200, 60_000, None)
    assert (second.status, second.range, second.sent) == (206, "bytes=60000-", len(FILES["part1.tar"]) - 60_000)


def test_a_server_that_ignores_range_sends_the_file_again_whole(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part1.tar", Fault(drop_after=60_000), Fault(ignore_range=True))
    client(zenodo)[0].download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    assert [(h.range, h.status, h.sent) for h in zenodo.hits if h.key == "part1.tar"][1] == (
        "bytes=60000-",
        200,
        len(FILES["part1.tar"]),
    )


def test_a_part_left_by_a_killed_run_is_resumed(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / ".part0.tar.part").write_bytes(FILES["part0.tar"][:50_000])
    Zenodo(zenodo.url).download_record(1, folder)
    assert_whole(folder, FILES)
    assert [h.range for h in zenodo.hits if h.key == "part0.tar"] == ["bytes=50000-"]


def test_a_part_with_wrong_bytes_is_fetched_again_never_used(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / ".part0.tar.part").write_bytes(b"\0" * 50_000)  # left by a broken disk, say
    client(zenodo)[0].download_record(1, folder)
    assert_whole(folder, FILES)
    assert [h.range for h in zenodo.hits if h.key == "part0.tar"] == ["bytes=50000-", None]


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_with_retry_after_waits_as_told(zenodo: ZenodoServer, tmp_path: Path, form: str) -> None:
    value = "3" if form == "seconds" else email.utils.formatdate(time.time() + 3, usegmt=True)
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part0.tar", Fault(status=429, retry_after=value))
    download, waits = client(zenodo, backoff=Backoff(first=0.01, give_up=60))
    download.download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    assert len(waits) == 1 and 1.5 < waits[0] <= 3.0  # not the 0.01 s of the backoff


def test_429_without_retry_after_and_5xx_back_off_exponentially(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, None, Fault(status=500))
    zenodo.inject(1, "part2.tar", Fault(status=429), Fault(status=503), Fault(status=502), Fault(status=500))
    download, waits = client(zenodo)
    download.download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    assert waits == pytest.approx([0.01, 0.01, 0.02, 0.04, 0.05])  # metadata once; then doubling, capped at `longest`


def test_a_server_that_keeps_failing_is_given_up_on_saying_what_to_do(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part1.tar", Fault(drop_after=10_000), *[Fault(status=503)] * 500)
    started = time.monotonic()
    with pytest.raises(DownloadError) as raised:
        Zenodo(zenodo.url, backoff=Backoff(first=0.01, longest=0.02, give_up=0.3)).download_record(1, tmp_path / "task")
    assert time.monotonic() - started < 3
    message = str(raised.value)
    assert "cannot download part1.tar of Zenodo record 1" in message and "HTTP 503" in message
    assert "gave up after" in message and "try again later (the download resumes where it stopped)" in message
    assert f"10.0 kB received are kept in {tmp_path / 'task' / '.part1.tar.part'}" in message
    assert "--xares-zenodo-url" in message and "--xares-offline" in message
    assert not (tmp_path / "task" / "part1.tar").exists()
    assert (tmp_path / "task" / "part0.tar").read_bytes() == FILES["part0.tar"]


def test_a_retry_after_beyond_the_time_limit_gives_up_at_once(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, None, Fault(status=429, retry_after="3600"))
    download, waits = client(zenodo)
    with pytest.raises(DownloadError, match=r"HTTP 429 .*the server asks to wait 60 min 00 s"):
        download.download_record(1, tmp_path / "task")
    assert waits == []


def test_a_corrupt_file_is_never_used(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES, wrong_md5=["part1.tar"])
    with pytest.raises(
        DownloadError, match="part1.tar of Zenodo record 1 .* arrived corrupt twice .* deleted, not used"
    ):
        client(zenodo)[0].download_record(1, tmp_path / "task")
    folder = tmp_path / "task"
    assert not (folder / "part1.tar").exists() and not list(folder.glob(".*.part"))
    assert zenodo.count("part1.tar") == 2 and zenodo.count("part2.tar") == 0
    with pytest.raises(MissingData, match="part1.tar, part2.tar"):  # an evaluation never sees it
        ensure_task_data(_task("task", 1), tmp_path, None)


def test_a_file_corrupted_in_transit_is_fetched_again(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part2.tar", Fault(corrupt=True))
    client(zenodo)[0].download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    assert zenodo.count("part2.tar", status=200) == 2


def test_a_record_that_does_not_exist(zenodo: ZenodoServer, tmp_path: Path) -> None:
    with pytest.raises(
        DownloadError, match=r"answered 404: there is no Zenodo record 999 there\. Check the task's record id"
    ):
        client(zenodo)[0].download_record(999, tmp_path / "task")
    assert not (tmp_path / "task" / RECORD_FILE).exists()


def test_an_unreachable_server_is_given_up_on_quickly(tmp_path: Path) -> None:
    with ZenodoServer() as gone:
        url = gone.url  # a port nobody listens on once the server has stopped
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"cannot reach the server .*--xares-offline"):
        Zenodo(url, backoff=Backoff(first=0.01)).download_record(1, tmp_path / "task")
    assert time.monotonic() - started < 2


def test_a_stalled_answer_times_out_and_is_retried(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, FILES)
    zenodo.inject(1, "part0.tar", Fault(stall=1.5))
    notes = Notes()
    Zenodo(zenodo.url, notes, timeout=0.3).download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)
    assert any("part0.tar of Zenodo record 1: " in line and "timed out" in line for line in notes.lines)


def test_a_slow_download_reports_bytes_rate_and_time_left(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, {"slow.tar": os.urandom(100_000)})
    zenodo.rate = 200_000  # bytes per second
    stream = io.StringIO()
    Zenodo(zenodo.url, Progress(stream, live=False, worker="gw3", interval=0.1)).download_record(1, tmp_path / "task")
    lines = stream.getvalue().splitlines()
    assert lines, "no progress line in half a second of download"
    pattern = r"\[gw3\] xares: downloading Zenodo record 1 into .*task: [\d.]+ kB of 100.0 kB \(\d+ %\), [\d.]+ kB/s, [\d.]+ s left"
    assert all(re.fullmatch(pattern, line) for line in lines), lines


def test_not_enough_disk_space_is_said_before_downloading(
    zenodo: ZenodoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zenodo.add_record(1, FILES)
    monkeypatch.setattr(downloader.shutil, "disk_usage", lambda path: _Usage(free=100_000))
    with pytest.raises(
        DownloadError, match=r"needs 450.0 kB more in .*task, but only 100.0 kB are free: free some space"
    ):
        Zenodo(zenodo.url).download_record(1, tmp_path / "task")
    assert zenodo.count("part0.tar") == 0


class _Usage:
    def __init__(self, free: int) -> None:
        self.free = free


def test_an_unsafe_file_name_in_the_metadata_is_refused(zenodo: ZenodoServer, tmp_path: Path) -> None:
    zenodo.add_record(1, {"../escaped.tar": b"x" * 10})
    with pytest.raises(DownloadError, match=r"unsafe file name '\.\./escaped\.tar': refused"):
        Zenodo(zenodo.url).download_record(1, tmp_path / "data" / "task")
    assert not list((tmp_path / "data").rglob("*.tar"))


def test_a_mirror_serving_zenodo_metadata_verbatim_serves_the_files(tmp_path: Path) -> None:
    with ZenodoServer(links_base="https://zenodo.org") as mirror:
        mirror.add_record(1, FILES)
        Zenodo(mirror.url + "/").download_record(1, tmp_path / "task")
    assert_whole(tmp_path / "task", FILES)


def _download_in_child(url: str, folder: Path, results: multiprocessing.Queue) -> None:
    notes = Notes()
    try:
        results.put((Zenodo(url, notes).download_record(5, folder).files, notes.lines))
    except BaseException as error:  # report it to the test rather than die silently
        results.put((-1, [repr(error)]))


@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_four_concurrent_downloaders_fetch_each_file_once(
    zenodo: ZenodoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    zenodo.add_record(5, FILES)
    zenodo.rate = 2_000_000  # about a quarter of a second for the record: the others arrive meanwhile
    monkeypatch.setattr(downloader, "LOCK_NOTICE", 0.01)
    if kind == "processes":
        if "fork" not in multiprocessing.get_all_start_methods():
            pytest.skip("forking (which shares this process's imports) is not available here")
        context = multiprocessing.get_context("fork")
        results: queue.Queue = context.Queue()
        workers = [
            context.Process(target=_download_in_child, args=(zenodo.url, tmp_path / "task", results)) for _ in range(4)
        ]
    else:
        results = queue.Queue()
        workers = [
            threading.Thread(target=_download_in_child, args=(zenodo.url, tmp_path / "task", results)) for _ in range(4)
        ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert sorted(files for files, _ in outcomes) == [0, 0, 0, 3], outcomes
    assert any("waiting for another process" in line for _, lines in outcomes for line in lines)
    assert_whole(tmp_path / "task", FILES)
    assert zenodo.count(None) == 1 and all(zenodo.count(key) == 1 for key in FILES)


# Tasks and their folders ------------------------------------------------------------------------


def _task(name: str, record: int | None, **kwargs: object) -> ClipTask:
    return ClipTask(
        name=name,
        formal_name=name,
        splits=splits(f"{name}_train", f"{name}_valid", f"{name}_test"),
        label="label",
        classes=("a", "b", "c"),
        weight=10,
        record=record,
        **kwargs,
    )  # type: ignore[arg-type]


def tone_record(folder: Path, name: str) -> dict[str, Path]:
    """Three small shards of tones (train, valid, test) for a task named ``name``."""
    for seed, split in enumerate(("train", "valid", "test")):
        write_tone_shard(folder / f"{name}_{split}_000000.tar", ["a", "b", "c"] * 4, seed=seed)
    return {path.name: path for path in sorted(folder.glob(f"{name}_*.tar"))}


def test_an_xares_env_directory_is_used_without_the_network(zenodo: ZenodoServer, tmp_path: Path) -> None:
    env = tmp_path / "env"
    tone_record(env / "alpha", "alpha")
    (env / "alpha" / XARES_READY).touch()
    outcome = ensure_task_data(_task("alpha", 101), env, Zenodo(zenodo.url))
    assert (outcome.state, outcome.folder) == ("present", str(env / "alpha"))
    assert zenodo.hits == []


def test_tasks_sharing_a_record_store_and_fetch_it_once(zenodo: ZenodoServer, tmp_path: Path) -> None:
    (mf,) = [t for t in load_tasks("xares") if t.name == "librispeechmalefemale"]
    asr = ClipTask(
        name="librispeech",
        formal_name="LibriSpeech-100h",
        record=14716252,
        splits=mf.splits,
        label="trans",
        classes=1,
        weight=10000,
    )
    shards = {name: os.urandom(1000) for name in ("train-clean-100-000.tar", "dev-clean-000.tar", "test-clean-000.tar")}
    zenodo.add_record(14716252, shards)
    data = tmp_path / "data"
    first = ensure_task_data(mf, data, Zenodo(zenodo.url))
    second = ensure_task_data(asr, data, Zenodo(zenodo.url))
    assert (first.state, second.state) == ("downloaded", "present")
    assert first.folder == second.folder == str(data / "librispeech")
    assert all(zenodo.count(key) == 1 for key in shards)
    # A user of X-ARES has the record in the MF task's own folder: found there, nothing fetched.
    env = tmp_path / "env"
    (env / "librispeechmalefemale").mkdir(parents=True)
    for name, content in shards.items():
        (env / "librispeechmalefemale" / name).write_bytes(content)
    assert ensure_task_data(mf, env, Zenodo(zenodo.url)).folder == str(env / "librispeechmalefemale")
    assert len(zenodo.hits) == 4


def test_private_tasks_never_download(zenodo: ZenodoServer, tmp_path: Path) -> None:
    (private,) = [t for t in load_tasks("xares") if t.name == "finger_snap"]
    with pytest.raises(
        MissingData, match=f"finger_snap is a private task: place its shards in {tmp_path / 'finger_snap'}"
    ):
        ensure_task_data(private, tmp_path, Zenodo(zenodo.url))
    assert zenodo.hits == []


def test_offline_says_which_files_are_missing(tmp_path: Path) -> None:
    folder = tmp_path / "alpha"
    files = tone_record(folder, "alpha")
    (folder / RECORD_FILE).write_text(
        json.dumps(
            {
                "id": 101,
                "files": [
                    {"key": k, "size": p.stat().st_size, "checksum": "md5:" + hashlib.md5(p.read_bytes()).hexdigest()}
                    for k, p in files.items()
                ],
            }
        )
    )
    (folder / "alpha_valid_000000.tar").unlink()
    (folder / "alpha_test_000000.tar").unlink()
    with pytest.raises(MissingData) as raised:
        ensure_task_data(_task("alpha", 101), tmp_path, None)
    assert re.search(
        rf"alpha: 2 of 3 files of its record are missing from {folder} \([\d.]+ kB\): alpha_test_000000.tar, "
        r"alpha_valid_000000.tar\. Offline \(--xares-offline\), so Zenodo record 101 \(https://zenodo.org/records/101\) "
        r"was not fetched: run `pytest --xares-download-only -k alpha`",
        str(raised.value),
    ), raised.value


# Through pytest ------------------------------------------------------------------------------------


@pytest.fixture
def served(zenodo: ZenodoServer, tmp_path: Path) -> Path:
    """Two user tasks, alpha (record 101) and beta (102), whose shards only the fake Zenodo has."""
    tasks = tmp_path / "record-tasks"
    tasks.mkdir()
    for name, record in (("alpha", 101), ("beta", 102)):
        (tasks / f"{name}.py").write_text(RECORD_TASK.format(name=name, record=record))
        zenodo.add_record(record, tone_record(tmp_path / "served" / name, name))
    return tasks


def test_a_mirror_serves_a_whole_evaluation(
    pytester: pytest.Pytester, zenodo: ZenodoServer, served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XARES_ZENODO_URL", "http://127.0.0.1:9")  # the command line wins
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    result = pytester.runpytest(
        f"--xares-encoder={spec}",
        f"--xares-tasks-dir={served}",
        f"--xares-zenodo-url={zenodo.url}",
        "-k",
        "alpha and knn",
    )
    result.assert_outcomes(passed=1)
    data = tmp_path / "xares-data" / "alpha"
    for shard in (tmp_path / "served" / "alpha").glob("*.tar"):
        assert (data / shard.name).read_bytes() == shard.read_bytes()
    assert json.loads((data / RECORD_FILE).read_text())["id"] == 101
    assert zenodo.count(None, record=101) == 1 and zenodo.count(None, record=102) == 0


def test_download_only_fetches_the_selected_tasks_without_an_encoder(
    pytester: pytest.Pytester, zenodo: ZenodoServer, served: Path, tmp_path: Path
) -> None:
    args = ["--xares-download-only", f"--xares-tasks-dir={served}", "-k", "alpha"]
    listed = pytester.runpytest(*args, "--co", "-q")
    assert [line for line in listed.stdout.lines if line.startswith("xares::")] == ["xares::alpha::download"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*X-ARES data: download*", "| alpha *| downloaded *| *101 | *3 |*"])
    assert sorted(p.name for p in (tmp_path / "xares-data" / "alpha").glob("*.tar")) == sorted(
        p.name for p in (tmp_path / "served" / "alpha").glob("*.tar")
    )
    assert not (tmp_path / "xares-data" / "beta").exists() and zenodo.count(None, record=102) == 0
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["| alpha *| present *|*"])
    assert len(zenodo.hits) == 4


def test_download_only_skips_private_tasks_and_fails_a_failed_download(
    pytester: pytest.Pytester, zenodo: ZenodoServer, served: Path
) -> None:
    zenodo.inject(102, None, Fault(status=404))
    result = pytester.runpytest(
        "--xares-download-only", f"--xares-tasks-dir={served}", "-k", "beta or finger_snap", "-rs"
    )
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*DownloadError: *answered 404: there is no Zenodo record 102 there*",
            "*finger_snap is a private task: place its shards in*",
        ]
    )


def test_verify_data_finds_a_damaged_file(
    pytester: pytest.Pytester, zenodo: ZenodoServer, served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--xares-download-only", f"--xares-tasks-dir={served}", "-k", "alpha").assert_outcomes(passed=1)
    monkeypatch.setenv("XARES_OFFLINE", "1")  # the kept metadata is all verification needs
    args = ["--xares-verify-data", f"--xares-tasks-dir={served}", "-k", "alpha or beta", "-rs"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1, skipped=1)  # beta has no data to verify
    result.stdout.fnmatch_lines(
        ["| alpha *| verified *| *101 | *3 |*", "*beta tones: nothing to verify, no data folder*"]
    )
    shard = tmp_path / "xares-data" / "alpha" / "alpha_valid_000000.tar"
    damaged = bytearray(shard.read_bytes())
    damaged[5000] ^= 1
    shard.write_bytes(bytes(damaged))
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*VerifyError: alpha tones: 1 of 3 files in * do not match the record's checksums: alpha_valid_000000.tar has md5 *"
            "Delete the damaged files and fetch them again with `pytest --xares-download-only -k alpha`*"
        ]
    )
    assert len(zenodo.hits) == 4  # verification never touched the network


def test_verify_data_fetches_metadata_for_an_xares_env_folder(zenodo: ZenodoServer, tmp_path: Path) -> None:
    files = tone_record(tmp_path / "served" / "alpha", "alpha")
    zenodo.add_record(101, files)
    env = tmp_path / "env"
    tone_record(env / "alpha", "alpha")
    outcome = verify_task_data(_task("alpha", 101), env, Zenodo(zenodo.url))
    assert (outcome.state, outcome.files) == ("verified", 3)
    assert read_record(env / "alpha") is not None  # kept: offline runs can verify from now on
    (env / "alpha" / "alpha_test_000000.tar").unlink()
    with pytest.raises(VerifyError, match="alpha_test_000000.tar is missing"):
        verify_task_data(_task("alpha", 101), env, None)


def test_offline_from_the_ini_file_never_touches_the_network(
    pytester: pytest.Pytester, zenodo: ZenodoServer, served: Path
) -> None:
    pytester.makeini("[pytest]\nxares_offline = yes\n")
    result = pytester.runpytest("--xares-download-only", f"--xares-tasks-dir={served}", "-k", "alpha", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*alpha tones: no data folder *Offline (--xares-offline), so Zenodo record 101*"])
    assert zenodo.hits == []


@pytest.mark.parametrize(
    ("args", "env", "error"),
    [
        (
            ["--xares-download-only", "--xares-verify-data"],
            {},
            "*choose one of --xares-download-only and --xares-verify-data*",
        ),
        (["--xares-download-only"], {"XARES_OFFLINE": "maybe"}, "*--xares-offline: cannot read 'maybe'*"),
        (
            ["--xares-download-only", "--xares-zenodo-url=zenodo.org"],
            {},
            "*--xares-zenodo-url must be an http:// or https:// URL*",
        ),
    ],
)
def test_bad_data_options_are_usage_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], error: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error])
