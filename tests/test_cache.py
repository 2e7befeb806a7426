"""The content-keyed cache: stable keys, atomic entries, recovery from a killed run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pytest_xares.encoder import EncoderSpec, build
from pytest_xares.encoder.fingerprint import fingerprint
from pytest_xares.hashing import digest
from pytest_xares.task.registry import load_tasks
from pytest_xares.testing import BANDS_ENCODER, encoder_file


def test_digest_ignores_dict_order() -> None:
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


def test_fingerprint_is_stable_across_processes_and_sees_weights(tmp_path: Path) -> None:
    path = encoder_file(tmp_path, BANDS_ENCODER)
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from pytest_xares.encoder import EncoderSpec, build
        from pytest_xares.encoder.fingerprint import fingerprint
        print(fingerprint(build(EncoderSpec.parse({str(path)!r}, Path("/")))))
        """
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    encoder = build(EncoderSpec.parse(str(path), tmp_path))
    assert runs == {fingerprint(encoder) + "\n"}
    with torch.no_grad():
        encoder.scale[3] += 1e-6
    assert fingerprint(encoder) != runs.pop().strip()


def test_fingerprint_sees_instance_settings(tmp_path: Path) -> None:
    encoder = build(EncoderSpec.parse(str(encoder_file(tmp_path, BANDS_ENCODER)), tmp_path))
    before = fingerprint(encoder)
    encoder.normalize = True
    assert fingerprint(encoder) != before


def test_fingerprint_sees_the_encoder_source(tmp_path: Path) -> None:
    first = fingerprint(build(EncoderSpec.parse(str(encoder_file(tmp_path, BANDS_ENCODER)), tmp_path)))
    edited = BANDS_ENCODER.replace("bands + 1e-6", "bands + 1e-7")
    second = fingerprint(build(EncoderSpec.parse(str(encoder_file(tmp_path, edited)), tmp_path)))
    assert first != second


def test_task_fingerprint_changes_with_any_field() -> None:
    from dataclasses import replace

    esc50 = next(t for t in load_tasks("xares") if t.name == "esc50")
    assert (esc50).fingerprint() == (replace(esc50)).fingerprint()
    assert (esc50).fingerprint() != (replace(esc50, epochs=11)).fingerprint()
    assert (esc50).fingerprint() != (replace(esc50, to_label=lambda v: v)).fingerprint()


KILL_DURING_SAVE = """
import os
import pytest_xares.cache.store as cache

if os.environ.get("KILL_DURING_SAVE"):
    def dying_savez(handle, **arrays):
        handle.write(b"PK half an archive")
        handle.flush()
        os._exit(3)
    cache.np.savez = dying_savez
"""


def test_a_run_killed_while_writing_is_recovered(
    pytester: pytest.Pytester, tiny_task: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    pytester.makeconftest(KILL_DURING_SAVE)
    out = pytester.path / "results.json"
    args = [
        f"--xares-encoder={spec}",
        f"--xares-tasks-dir={tiny_task}",
        "-k",
        "tiny",
        f"--xares-json={out}",
        "-p",
        "no:cacheprovider",
    ]
    monkeypatch.setenv("KILL_DURING_SAVE", "1")
    killed = pytester.runpytest_subprocess(*args)
    assert killed.ret == 3
    cache = tiny_task.parent / "xares-cache"
    leftovers = [p for p in cache.rglob("*.tmp")]
    assert leftovers and not list(cache.rglob("*.npz"))  # only a temporary file, never trusted
    monkeypatch.delenv("KILL_DURING_SAVE")
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=2)
    recovered = {r["method"]: r["score"] for r in json.loads(out.read_text())["results"]}
    # The same scores as a run that was never interrupted, from an empty cache.
    monkeypatch.setenv("XARES_CACHE_DIR", str(pytester.path / "fresh-cache"))
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=2)
    assert recovered == {r["method"]: r["score"] for r in json.loads(out.read_text())["results"]}
