"""Bad data gets an error that names the file and the sample, and nothing half-done is kept."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from pytest_xares.cache.store import save_arrays
from pytest_xares.data.shards import DataError, ShardSample, find_shards, iter_samples, write_shard
from pytest_xares.errors import StorageError
from pytest_xares.testing import BANDS_ENCODER, encoder_file, write_tone_shard


def run_tiny(pytester: pytest.Pytester, tiny_task: Path, *extra: str) -> pytest.RunResult:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    return pytester.runpytest(f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny and mlp", *extra)


def data(tiny_task: Path) -> Path:
    return tiny_task.parent / "xares-data" / "tiny"


def test_a_label_outside_the_vocabulary_names_shard_and_key(pytester: pytest.Pytester, tiny_task: Path) -> None:
    write_tone_shard(data(tiny_task) / "tiny_valid_000000.tar", ["a", "b", "zebra"])
    result = run_tiny(pytester, tiny_task)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*DataError: task tiny, shard tiny_valid_000000.tar, key 'clip0002': label 'zebra' is not in the vocabulary*"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_an_undecodable_clip_names_shard_and_key(pytester: pytest.Pytester, tiny_task: Path) -> None:
    write_shard(
        data(tiny_task) / "tiny_test_000000.tar", [ShardSample("broken", b"RIFF....garbage", "wav", {"label": "a"})]
    )
    result = run_tiny(pytester, tiny_task)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*shard tiny_test_000000.tar, key 'broken': cannot decode audio*"])


def test_a_truncated_shard_is_named(pytester: pytest.Pytester, tiny_task: Path) -> None:
    shard = data(tiny_task) / "tiny_train_000000.tar"
    shard.write_bytes(shard.read_bytes()[:30_000])
    result = run_tiny(pytester, tiny_task)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*cannot read shard {shard}*Delete it and fetch it again*"])


def test_a_sample_without_json_or_audio(tmp_path: Path) -> None:
    shard = tmp_path / "x.tar"
    write_shard(shard, [ShardSample("k", b"{}", "txt", {"label": "a"})])
    with pytest.raises(DataError, match="key 'k': no audio member"):
        list(iter_samples([shard]))


@pytest.mark.parametrize("extension", ["m4a", "wma"])
def test_audio_soundfile_cannot_decode_is_named_with_what_to_do(tmp_path: Path, extension: str) -> None:
    shard = tmp_path / "x.tar"
    write_shard(shard, [ShardSample("k", b"\x00" * 64, extension, {"label": "a"})])
    with pytest.raises(DataError, match=f"key 'k': its audio is {extension}, which pytest-xares does not decode.*flac"):
        list(iter_samples([shard]))


def test_missing_split_names_the_pattern_and_folder(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    with pytest.raises(DataError, match=r"no shards matching 'tr\*.tar' in .*t"):
        find_shards(tmp_path / "t", "tr*.tar")


def test_an_unreadable_data_dir_skips_with_its_path(pytester: pytest.Pytester, tiny_task: Path) -> None:
    result = run_tiny(pytester, tiny_task, f"--xares-data-dir={pytester.path / 'nowhere'}", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"*no data folder {pytester.path / 'nowhere' / 'tiny'}*"])


def test_a_full_disk_leaves_no_partial_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cache" / "entry.npz"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(StorageError, match="No space left on device; free some space or point --xares-cache-dir"):
        save_arrays(target, features=np.zeros(3))
    assert list(target.parent.iterdir()) == []


def test_a_full_disk_during_a_run_fails_clearly_and_a_later_run_recovers(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:  # the in-process run shares this numpy
        patch.setattr(np, "savez", full)
        result = run_tiny(pytester, tiny_task)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StorageError: cannot write*No space left on device*"])
    cache = tiny_task.parent / "xares-cache"
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix in (".npz", ".tmp")]
    run_tiny(pytester, tiny_task).assert_outcomes(passed=1)
