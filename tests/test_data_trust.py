"""What the data layer guarantees about the files it reads and writes: a planted link is refused and
its target left as it was, a shard cut short or written wrong is named before anything is scored,
an empty file of a record downloads, and a full disk gives advice."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import webdataset

from pytest_xares.data.prepare import prepare_data
from pytest_xares.data.records import XARES_READY, read_record
from pytest_xares.data.shards import ShardSample, _add_member, encode_audio, iter_samples, write_shard
from pytest_xares.data.zenodo import DownloadError, Zenodo
from pytest_xares.embeddings.encode import clips
from pytest_xares.errors import DataError, MissingData, StorageError
from pytest_xares.task import ClipTask, splits
from pytest_xares.task.registry import load_tasks
from pytest_xares.testing import write_tone_shard
from pytest_xares.testing.zenodo_server import ZenodoServer

FILES = {f"part{i}.tar": os.urandom(150_000 + i) for i in range(3)}
PRECIOUS = b"a file outside the data directory\n" * 30

TASK = ClipTask(
    name="trust",
    formal_name="Trust tones",
    splits=splits("trust_train", "trust_valid", "trust_test"),
    label="label",
    classes=("a", "b"),
    weight=1,
)


def outside(tmp_path: Path) -> Path:
    """A file a planted link points to: it must stay as it is."""
    target = tmp_path / "elsewhere" / "precious.bin"
    target.parent.mkdir()
    target.write_bytes(PRECIOUS)
    return target


def untouched(target: Path, before: os.stat_result) -> bool:
    after = target.stat()
    return target.read_bytes() == PRECIOUS and (after.st_mtime_ns, after.st_size) == (
        before.st_mtime_ns,
        before.st_size,
    )


# 1. Nothing is written, read or locked through a link planted in the data directory -----------


@pytest.mark.parametrize(
    "planted",
    [".part1.tar.part", "../.zenodo-1.lock", XARES_READY],
    ids=["part file", "record lock", "ready marker"],
)
def test_a_planted_link_is_refused_and_its_target_left_as_it_was(
    zenodo: ZenodoServer, tmp_path: Path, planted: str
) -> None:
    zenodo.add_record(1, FILES)
    folder = tmp_path / "data" / "task"
    folder.mkdir(parents=True)
    target = outside(tmp_path)
    before = target.stat()
    link = folder.parent / planted[3:] if planted.startswith("../") else folder / planted
    link.symlink_to(target)
    with pytest.raises(DownloadError, match="it is a symbolic link") as refused:
        Zenodo(zenodo.url).download_record(1, folder)
    assert isinstance(refused.value, MissingData)
    message = str(refused.value)
    assert str(link) in message and str(target) in message and "remove it" in message
    assert untouched(target, before)
    assert link.is_symlink()  # left for its owner to look at


def test_a_planted_link_at_the_demo_synthesis_lock_is_refused(tmp_path: Path) -> None:
    task = next(t for t in load_tasks("demo") if t.name == "demo_pitch")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    target = outside(tmp_path)
    before = target.stat()
    (data_dir / f".{task.data_folder}.lock").symlink_to(target)
    with pytest.raises(StorageError, match="it is a symbolic link.*--xares-data-dir"):
        prepare_data(task, data_dir)
    assert untouched(target, before)
    assert not (data_dir / task.data_folder).exists()


# 2. A shard cut short, even exactly after a member, is named before any of it is read ----------


def member_ends(shard: Path) -> list[int]:
    """Where each member's data ends, padded to its 512-byte block."""
    with tarfile.open(shard) as tar:
        return [m.offset_data + -(-m.size // 512) * 512 for m in tar.getmembers()]


def test_a_shard_cut_at_a_member_boundary_is_named(tmp_path: Path) -> None:
    shard = tmp_path / "env" / "trust" / "trust_train_000000.tar"
    write_tone_shard(shard, ["a", "b"] * 8)
    assert len(list(iter_samples([shard]))) == 16
    cut = member_ends(shard)[2 * 5 - 1]  # after the 5th sample's json
    with open(shard, "r+b") as handle:
        handle.truncate(cut)
    with pytest.raises(DataError, match="truncated") as truncated:
        list(iter_samples([shard]))
    message = str(truncated.value)
    assert str(shard) in message and "Delete it and fetch it again, or restore it" in message


def test_clips_of_a_cut_shard_are_refused_before_any_is_decoded(tmp_path: Path) -> None:
    shard = tmp_path / "trust_train_000000.tar"
    write_tone_shard(shard, ["a", "b"] * 8)
    with open(shard, "r+b") as handle:
        handle.truncate(member_ends(shard)[9])
    got: list[object] = []
    with pytest.raises(DataError, match=f"cannot read shard {shard}: it is truncated"):
        got.extend(clips(TASK, [shard], 16000, decoders=1))
    assert got == []


@pytest.mark.parametrize("writer", ["write_shard", "tarfile default", "webdataset TarWriter"])
def test_whole_shards_of_every_writer_are_read(tmp_path: Path, writer: str) -> None:
    shard = tmp_path / "whole.tar"
    audio = encode_audio(np.zeros(1600, np.float32), 16000, "wav")  # silence: zeros at its end too
    if writer == "write_shard":
        write_shard(shard, [ShardSample(f"k{i}", audio, "wav", {"label": "a"}) for i in range(3)])
    elif writer == "tarfile default":
        with tarfile.open(shard, "w") as tar:
            for i in range(3):
                for name, data in ((f"k{i}.wav", audio), (f"k{i}.json", b'{"label": "a"}')):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    else:
        with webdataset.TarWriter(str(shard)) as sink:
            for i in range(3):
                sink.write({"__key__": f"k{i}", "wav": audio, "json": {"label": "a"}})
    assert [s.key for s in iter_samples([shard])] == ["k0", "k1", "k2"]


# 3. A full disk while synthesising the demo data gives advice and leaves nothing half-made -------


def test_a_full_disk_while_synthesising_demo_data_gives_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = next(t for t in load_tasks("demo") if t.name == "demo_pitch")
    data_dir = tmp_path / "data"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(tarfile.TarFile, "addfile", full)
        with pytest.raises(
            StorageError, match="No space left on device; free some space or point --xares-data-dir at a larger disk"
        ):
            prepare_data(task, data_dir)
    assert [p.name for p in data_dir.iterdir() if not p.name.endswith(".lock")] == []  # no staging folder
    assert prepare_data(task, data_dir)  # with space again, it is made


# 4a. NaN or inf in decoded audio names the shard and key, not the encoder -------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_audio_names_shard_and_key(tmp_path: Path, bad: float) -> None:
    shard = tmp_path / "trust_test_000000.tar"
    good = (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    broken = good.copy()
    broken[1234] = bad
    write_shard(
        shard,
        [
            ShardSample(f"clip{i:04d}", encode_audio(audio, 16000, "wav", "FLOAT"), "wav", {"label": "a"})
            for i, audio in enumerate([good, broken, good])
        ],
    )
    with pytest.raises(DataError, match="NaN or infinite samples") as error:
        list(clips(TASK, [shard], 16000, decoders=1))
    message = str(error.value)
    assert "task trust, shard trust_test_000000.tar, key 'clip0001'" in message
    assert "encoder" not in message


# 4b. A shard written wrong is called malformed, not damaged -----------------------------------------


@pytest.mark.parametrize(
    "members",
    [
        ["clip0001.wav", "clip0001.json", "clip0001.wav"],
        ["clip0001.wav", "clip0001.json", "clip0001.json"],
        ["clip0001.wav", "clip0001.json", "clip0002.wav", "clip0002.json", "clip0001.wav", "clip0001.json"],
    ],
    ids=["audio twice", "json twice", "apart"],
)
def test_a_key_twice_in_a_shard_says_it_is_malformed(tmp_path: Path, members: list[str]) -> None:
    shard = tmp_path / "dup.tar"
    audio = encode_audio(np.zeros(1600, np.float32), 16000, "wav")
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name in members:
            _add_member(tar, name, audio if name.endswith(".wav") else b'{"label": "a"}')
    with pytest.raises(DataError, match="malformed") as error:
        list(iter_samples([shard]))
    message = str(error.value)
    assert f"shard {shard}, key 'clip0001'" in message
    assert "fetching it again gives the same file" in message
    assert "Delete it and fetch it again" not in message


# 4c. An empty file of a record downloads, verified ------------------------------------------------


def test_an_empty_file_of_a_record_downloads(zenodo: ZenodoServer, tmp_path: Path) -> None:
    files = {"empty.txt": b"", "part0.tar": FILES["part0.tar"]}
    zenodo.add_record(1, files)
    folder = tmp_path / "task"
    fetched = Zenodo(zenodo.url).download_record(1, folder)
    assert (folder / "empty.txt").read_bytes() == b"" and (folder / "part0.tar").read_bytes() == files["part0.tar"]
    record = read_record(folder)
    assert record is not None
    assert {f.key: f.md5 for f in record.files}["empty.txt"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert hashlib.md5(b"").hexdigest() == "d41d8cd98f00b204e9800998ecf8427e"
    assert fetched.files == 2 and not list(folder.glob(".*.part"))
    assert Zenodo(zenodo.url).download_record(1, folder).files == 0  # complete: nothing fetched again
