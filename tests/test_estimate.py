"""``--xares-estimate``: what a run would download, store and take, with nothing downloaded or cached."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from pytest_xares.data.records import write_record
from pytest_xares.data.zenodo import Zenodo
from pytest_xares.encoder import LoadedEncoder, build
from pytest_xares.encoder.loading import EncoderSpec
from pytest_xares.engine import estimate as estimating
from pytest_xares.engine.estimate import Estimate, estimate_task, table
from pytest_xares.task import ClipTask, splits
from pytest_xares.testing import BANDS_ENCODER, ZenodoServer, encoder_file


def loaded(directory: Path, body: str = BANDS_ENCODER) -> LoadedEncoder:
    module = build(EncoderSpec.parse(str(encoder_file(directory, body)), directory)).eval()
    return LoadedEncoder(module, "", torch.device("cpu"))


def row(output: list[str], task: str) -> list[str]:
    """The cells of ``task``'s row in the printed estimate table."""
    line = next(line for line in output if line.startswith(f"| {task} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


def kilobytes(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"B": 1e-3, "kB": 1, "MB": 1e3}[unit]


def test_the_estimate_counts_what_a_real_run_encodes_and_stores_and_writes_nothing(
    pytester: pytest.Pytester, tiny_task: Path, tmp_path: Path
) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    args = [f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-p", "no:cacheprovider"]
    cache = tmp_path / "xares-cache"
    estimated = pytester.runpytest_subprocess(*args, "--xares-estimate", "-n", "2")
    estimated.assert_outcomes(passed=1)  # one item per task, no encoder checks (they store verdicts)
    estimated.stdout.fnmatch_lines(["*X-ARES estimate*", "| task *| download *| clips *| audio h *| cache *| encode *"])
    assert "X-ARES scores" not in estimated.stdout.str()
    assert not cache.exists()
    _task, download, clips, hours, stored, encode, _note = row(estimated.outlines, "tiny")
    assert (download, clips, hours) == ("0 B", "72", "0.01")  # 3 splits of 24 clips of 0.5 s
    assert re.fullmatch(r"[\d.]+ s", encode)

    out = pytester.path / "results.json"
    pytester.runpytest_subprocess(*args, f"--xares-json={out}").assert_outcomes(passed=2)
    results = json.loads(out.read_text())["results"]
    encoded = [split for r in results for split in r["details"]["encoded"].values()]
    assert sum(split["clips"] for split in encoded) == int(clips)
    real_kb = max(r["bytes_stored"] for r in results) / 1000
    assert kilobytes(stored) == pytest.approx(real_kb, rel=0.05)


def test_a_split_larger_than_what_is_read_is_scaled_by_its_bytes(
    tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = ClipTask(
        name="tiny", formal_name="Tiny", splits=splits("tiny_train", "tiny_valid", "tiny_test"),
        label="label", classes=("a", "b", "c"), weight=1,
    )  # fmt: skip
    encoder = loaded(tmp_path)
    whole = estimate_task(task, encoder, tmp_path / "xares-data", None, 16)
    monkeypatch.setattr(estimating, "SAMPLE_CLIPS", 5)  # of the 24 clips of each split
    scaled = estimate_task(task, encoder, tmp_path / "xares-data", None, 16)
    assert whole.clips == 72 and "scaled" not in whole.note
    assert scaled.clips == pytest.approx(72, rel=0.1) and "5 samples read, scaled" in scaled.note
    assert scaled.audio_seconds == pytest.approx(36, rel=0.1)
    assert scaled.cache_bytes == pytest.approx(whole.cache_bytes, rel=0.1)


#: An encoder that takes 50 ms per call, whatever the batch, and computes next to nothing.
SLOW = """
class SlowEncoder(torch.nn.Module):
    sampling_rate, output_dim, hop_size_in_ms = 16000, 16, 10

    def forward(self, audio):
        __import__("time").sleep(0.05)
        return torch.zeros(audio.shape[0], audio.shape[-1] // 160, 16)
"""


def test_the_time_is_the_timed_forward_pass_times_the_hours_of_audio(tiny_task: Path, tmp_path: Path) -> None:
    task = ClipTask(
        name="tiny", formal_name="Tiny", splits=splits("tiny_train", "tiny_valid", "tiny_test"),
        label="label", classes=("a", "b", "c"), weight=1,
    )  # fmt: skip
    estimate = estimate_task(task, loaded(tmp_path, SLOW), tmp_path / "xares-data", None, 16)
    # Each split's 24 equal clips make batches of 16 and 8: 6 calls of 50 ms.
    assert estimate.forward_seconds == pytest.approx(6 * 0.05, rel=0.35)
    assert estimate.encode_seconds is not None and estimate.encode_seconds >= estimate.forward_seconds


def recorded_task(name: str, record: int) -> ClipTask:
    return ClipTask(
        name=name, formal_name=name.upper(), record=record, splits=splits("part_train", "part_valid", "part_test"),
        label="label", classes=("a",), weight=1,
    )  # fmt: skip


def test_the_download_is_what_the_record_lists_and_is_not_in_place(tmp_path: Path) -> None:
    data, encoder = tmp_path / "xares-data", loaded(tmp_path)
    with ZenodoServer() as server:
        server.add_record(7, {"part_train.tar": b"x" * 3000, "part_valid.tar": b"y" * 500, "part_test.tar": b"z" * 200})
        online = Zenodo(server.url)
        fresh = estimate_task(recorded_task("fresh", 7), encoder, data, online, 16)
        assert fresh.download_bytes == 3700 and fresh.clips is None  # asked of the server, nothing fetched
        assert not (data / "fresh").exists() and server.count("part_train.tar") == 0

        half = data / "half"
        half.mkdir(parents=True)
        write_record(half, server.metadata(7))
        (half / "part_train.tar").write_bytes(b"x" * 3000)  # in place; the other two are not
        assert estimate_task(recorded_task("half", 7), encoder, data, None, 16).download_bytes == 700

    unknown = estimate_task(recorded_task("absent", 8), encoder, data, None, 16)
    assert unknown.download_bytes is None and "offline" in unknown.note
    text = table([fresh, unknown])
    assert "| absent " in text and "3.7 kB + ?" in text  # the total says a size is unknown


def test_the_total_counts_a_shared_record_once_and_the_time_on_n_workers() -> None:
    one = Estimate("librispeech", 14716252, 6_000_000_000, 10, 3600.0, 1000, 100.0, 20.0)
    two = Estimate("librispeechmalefemale", 14716252, 6_000_000_000, 10, 3600.0, 1000, 100.0, 20.0)
    text = table([one, two], workers=4)
    total = next(line for line in text.splitlines() if line.startswith("| total"))
    assert "6.0 GB" in total and "12.0 GB" not in total
    assert "on one worker" in total and "on 4" in total


def test_estimate_needs_an_encoder(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--xares-estimate", "--xares-download-only", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--xares-estimate needs --xares-encoder*"])
