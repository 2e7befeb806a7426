"""A score is never served from a damaged cache entry, and what the encoder returns is checked for
every batch: the failures name what went wrong and where."""

from __future__ import annotations

import io
import json
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import pytest_xares
from pytest_xares.cache.store import Cache
from pytest_xares.data.shards import write_shard
from pytest_xares.embeddings.encode import Clip, encode
from pytest_xares.encoder import EncoderSpec, build
from pytest_xares.engine.progress import Progress
from pytest_xares.errors import DataError, EncoderError, StorageError
from pytest_xares.task import ClipTask, splits
from pytest_xares.testing import BANDS_ENCODER, MEL, encoder_file, write_tone_shard


def tiny(data_dir: Path, name: str = "tiny") -> ClipTask:
    """A three-class task of 0.5 s tones, its shards written into ``data_dir``."""
    for seed, split in enumerate(("train", "valid", "test")):
        write_tone_shard(data_dir / name / f"{name}_{split}_000000.tar", ["a", "b", "c"] * 4, seed=seed)
    return ClipTask(
        name=name,
        formal_name="Tiny tones",
        splits=splits(f"{name}_train", f"{name}_valid", f"{name}_test"),
        classes=("a", "b", "c"),
        weight=1,
        epochs=5,
        batch_size=8,
    )


def run(encoder: object, task: ClipTask | str, tmp_path: Path, **options: object) -> pytest_xares.Results:
    return pytest_xares.evaluate(
        encoder, tasks=[task], methods=("mlp",), data_dir=tmp_path / "data", cache_dir=tmp_path / "cache",
        progress=False, **options,
    )  # fmt: skip


def bands(tmp_path: Path, body: str = BANDS_ENCODER) -> str:
    return str(encoder_file(tmp_path, body))


def test_an_edited_score_in_a_result_entry_is_recomputed(tmp_path: Path) -> None:
    task = tiny(tmp_path / "data")
    first = run(bands(tmp_path), task, tmp_path).results[0]
    (entry,) = (tmp_path / "cache" / "results").rglob("*.json")
    sealed = json.loads(entry.read_text())
    sealed["entry"]["score"] = 0.999  # an edited digit, the seal left as it was
    entry.write_text(json.dumps(sealed))
    again = run(bands(tmp_path), task, tmp_path).results[0]
    assert not again.cached and again.score == first.score
    assert run(bands(tmp_path), task, tmp_path).results[0].cached  # and written anew


def test_an_entry_of_another_layout_is_recomputed_not_a_type_error(tmp_path: Path) -> None:
    task = tiny(tmp_path / "data")
    first = run(bands(tmp_path), task, tmp_path).results[0]
    cache = Cache(tmp_path / "cache")
    (entry,) = (tmp_path / "cache" / "results").rglob("*.json")
    for other in (
        {"score": "high"},
        [1, 2, 3],
        {**first.to_dict(), "score": "0.5"},
        {**first.to_dict(), "seed": None} | {"x": 1},
    ):
        cache.write_entry(entry, other)  # sealed properly: the layout alone is wrong
        again = run(bands(tmp_path), task, tmp_path).results[0]
        assert not again.cached and again.score == first.score


def test_a_check_entry_that_does_not_parse_is_checked_again(tmp_path: Path) -> None:
    spec = bands(tmp_path)
    assert pytest_xares.check_encoder(spec, cache_dir=tmp_path / "cache")
    entries = list((tmp_path / "cache" / "checks").rglob("*.json"))
    assert entries
    for entry in entries:
        entry.write_text('{"outcome": ')
    assert pytest_xares.check_encoder(spec, cache_dir=tmp_path / "cache")
    entries[0].write_text(json.dumps({"sha256": "0" * 64, "entry": {"outcome": "passed"}}))  # a forged verdict
    assert pytest_xares.check_encoder(spec, cache_dir=tmp_path / "cache")


def test_a_damaged_frame_file_is_encoded_again_and_never_scored(tmp_path: Path) -> None:
    first = run(MEL, "demo_events", tmp_path, suite="demo").results[0]
    rows = next((tmp_path / "cache" / "embeddings").rglob("*.f16"))
    frames = np.memmap(rows, dtype=np.float16, mode="r+")
    frames[: len(frames) // 2] = np.nan  # garbage of the right size
    frames.flush()
    del frames
    for entry in (tmp_path / "cache" / "results").rglob("*.json"):
        entry.unlink()  # so that the head trains again on the stored frames
    again = run(MEL, "demo_events", tmp_path, suite="demo").results[0]
    assert again.details["encoded"], "the damaged frames were used instead of encoded again"
    assert again.score == first.score


#: Correct on the checks' inputs (2 s and longer), wrong on the task's 0.5 s clips.
SHAPESHIFTER = BANDS_ENCODER.replace(
    "        return torch.log(bands + 1e-6) * self.scale",
    "        out = torch.log(bands + 1e-6) * self.scale\n"
    "        if audio.shape[1] == 8000:\n"
    "            return WRONG\n"
    "        return out",
)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ("out[..., :12]", r"returned \[\d+, 50, 12\] for a batch of shape .*clip0000.*declares output_dim=16"),
        ("torch.cat([out, out], -1)", r"declares output_dim=16"),
        ("out.long()", r"returned torch.int64 .*clip0000.*floating-point"),
        ("out * float('nan')", r"NaN or infinite values for .*clip0000"),
    ],
)
def test_every_batch_of_the_task_is_checked_and_the_clip_named(tmp_path: Path, wrong: str, message: str) -> None:
    spec = bands(tmp_path, SHAPESHIFTER.replace("WRONG", wrong))
    assert pytest_xares.check_encoder(spec, cache_dir=tmp_path / "cache")  # the interface checks cannot see it
    with pytest.raises(EncoderError, match=message):
        run(spec, tiny(tmp_path / "data"), tmp_path)


def test_sys_exit_in_the_encoder_is_an_encoder_error_not_the_end_of_the_run(tmp_path: Path) -> None:
    spec = bands(tmp_path, SHAPESHIFTER.replace("return WRONG", "raise SystemExit(3)"))
    with pytest.raises(EncoderError, match=r"the encoder raised on .*clip0000.*SystemExit: 3"):
        run(spec, tiny(tmp_path / "data"), tmp_path)


def test_a_split_without_samples_names_the_task_and_the_split(tmp_path: Path) -> None:
    task = tiny(tmp_path / "data")
    write_shard(tmp_path / "data" / "tiny" / "tiny_valid_000000.tar", [])
    with pytest.raises(DataError, match=r"task tiny, split tiny_valid\*\.tar .* holds no samples"):
        run(bands(tmp_path), task, tmp_path)


def test_a_slow_batch_says_it_is_still_running(tmp_path: Path) -> None:
    slow = BANDS_ENCODER.replace(
        "    def forward(self, audio):\n", "    def forward(self, audio):\n        time.sleep(0.4)\n"
    )
    encoder = build(EncoderSpec.parse(bands(tmp_path, "import time\n" + slow), tmp_path))
    stream = io.StringIO()
    progress = Progress(stream, live=False, interval=0.1)
    clip = Clip(0, "shard.tar/only", np.zeros(1600, np.float32), {})
    started = time.monotonic()
    encode(encoder, torch.device("cpu"), [clip], 4, busy=progress.busy, what="task t, split s")
    assert time.monotonic() - started >= 0.4
    assert "encoding task t, split s: a batch of 1 clips from shard.tar/only: still running after" in stream.getvalue()


def test_entries_follow_the_umask_and_locks_stay_out_of_the_listing(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    run(bands(tmp_path), tiny(tmp_path / "data"), tmp_path)
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and ".locks" not in p.parts]
    assert entries and all(stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask for p in entries)
    assert not [p for p in entries if p.suffix == ".lock"]
    assert list((tmp_path / "cache" / ".locks").rglob("*.lock"))


def test_a_planted_lock_link_is_refused(tmp_path: Path) -> None:
    task = tiny(tmp_path / "data")
    run(bands(tmp_path), task, tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    for lock in (tmp_path / "cache" / ".locks").rglob("*.lock"):
        lock.unlink()
        lock.symlink_to(outside)
    for entry in [
        *(tmp_path / "cache" / "results").rglob("*.json"),
        *(tmp_path / "cache" / "embeddings").rglob("*.npz"),
    ]:
        entry.unlink()  # computed again, so under the entries' locks
    with pytest.raises(StorageError, match="is a symbolic link"):
        run(bands(tmp_path), task, tmp_path)
    assert outside.read_text() == "precious"
