"""One policy for whether a task runs: the suite's items, the ``xares_score`` fixture and the
Python API skip the same tasks for the same reason; an encoder that cannot load is a failed
check, whatever it raises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import pytest_xares
from pytest_xares.encoder import EncoderError, EncoderSpec, build
from pytest_xares.importing import module_name
from pytest_xares.testing import BANDS_ENCODER, encoder_file

#: Declares 20 ms between frames, but its frames are 10 ms apart: frame targets would be misplaced.
WRONG_HOP = BANDS_ENCODER.replace("hop_size_in_ms = 10", "hop_size_in_ms = 20")

HOP_REASON = "encoder check 'hop_size' did not pass"

GATE = """
def test_events_gate(xares_score):
    xares_score("demo_events")
    raise AssertionError("a frame task ran with an encoder whose hop is wrong")
"""


def test_the_fixture_skips_a_frame_task_when_the_hop_is_wrong(pytester: pytest.Pytester) -> None:
    spec = encoder_file(pytester.path, WRONG_HOP)
    gate = pytester.makepyfile(test_gate=GATE)
    result = pytester.runpytest(
        f"--xares-encoder={spec}", "--xares-suite=demo", str(gate), "-k", "test_events_gate", "-rs"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED [[]1[]] *: {HOP_REASON}: *the frames are 10.0 ms apart*"])


def test_the_item_skips_it_for_the_same_reason(pytester: pytest.Pytester) -> None:
    spec = encoder_file(pytester.path, WRONG_HOP)
    result = pytester.runpytest(f"--xares-encoder={spec}", "--xares-suite=demo", "-k", "demo_events", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "not run:",
            f"  demo_events::mlp: {HOP_REASON}: *the frames are 10.0 ms apart*",
            f"SKIPPED [[]1[]] *: {HOP_REASON}: *",
        ]
    )


def test_the_python_api_lists_it_as_skipped_with_the_reason(tmp_path: Path) -> None:
    spec = encoder_file(tmp_path, WRONG_HOP)
    results = pytest_xares.evaluate(
        str(spec),
        tasks=["demo_events"],
        suite="demo",
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        device="cpu",
        progress=False,
    )
    assert results.results == []
    assert list(results.skipped) == ["demo_events::mlp"]
    assert HOP_REASON in results.skipped["demo_events::mlp"]
    assert "the frames are 10.0 ms apart" in results.skipped["demo_events::mlp"]
    assert not (tmp_path / "data" / "demo_events").exists()  # skipped before its data is synthesised


def test_an_encoder_file_that_exits_at_import_fails_the_load_check(pytester: pytest.Pytester) -> None:
    spec = encoder_file(pytester.path, "raise SystemExit('no weights here')\n" + BANDS_ENCODER)
    result = pytester.runpytest(f"--xares-encoder={spec}", "-m", "xares_check", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=9)
    reports = [r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "call" and r.failed]
    assert [r.nodeid for r in reports] == ["xares::encoder::loads"]
    message = str(reports[0].longrepr)
    assert "encoder check 'loads' failed" in message and "raised SystemExit: no weights here" in message
    assert str(spec) in message
    assert "Traceback" not in message and "pytest_xares" not in message.replace(str(spec), "")


def test_a_second_build_after_a_failed_import_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the encoder's folder goes on it
    missing = tmp_path / "weights-missing"
    missing.touch()
    # The same file, so the same module name, both times: only the world around it changes.
    body = f"import pathlib\nif pathlib.Path({str(missing)!r}).exists():\n    raise SystemExit(3)\n" + BANDS_ENCODER
    path = encoder_file(tmp_path, body)
    spec = EncoderSpec.parse(str(path), tmp_path)
    name = module_name("_xares_encoder", path)
    with pytest.raises(EncoderError, match="raised SystemExit: 3"):
        build(spec)
    assert name not in sys.modules  # the half-imported module was removed
    missing.unlink()
    try:
        encoder = build(spec)
        assert isinstance(encoder, torch.nn.Module) and type(encoder).__name__ == "BandsEncoder"
        assert type(encoder).__module__ == name
        assert encoder(torch.zeros(1600)).shape == (1, 10, 16)
    finally:
        sys.modules.pop(name, None)
