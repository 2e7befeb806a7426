"""The encoder fingerprint covers what determines the outputs, and nothing about where it lives."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pytest_xares.encoder import EncoderSpec, build
from pytest_xares.encoder import fingerprint as fingerprints
from pytest_xares.encoder.fingerprint import code_of, fingerprint

#: An encoder whose frames come from a helper module beside it, scaled by a plain tensor attribute.
HELPED = """
import torch
from helpers import frames_of

class HelpedEncoder(torch.nn.Module):
    sampling_rate = 16000
    output_dim = 4
    hop_size_in_ms = 10

    def __init__(self):
        super().__init__()
        self.gain = torch.ones(4)  # a plain attribute: neither a parameter nor a buffer

    def forward(self, audio):
        return frames_of(audio if audio.ndim == 2 else audio[None]) * self.gain
"""
HELPERS = """
import torch

def frames_of(audio):
    frames = audio[:, : audio.shape[1] // 160 * 160].reshape(audio.shape[0], -1, 160)
    return torch.stack([frames.mean(-1), frames.std(-1), frames.abs().max(-1).values, frames.pow(2).mean(-1)], -1)
"""


def _checkout(folder: Path, helpers: str = HELPERS) -> Path:
    folder.mkdir(parents=True)
    (folder / "helpers.py").write_text(textwrap.dedent(helpers))
    (folder / "helped_encoder.py").write_text(textwrap.dedent(HELPED))
    return folder / "helped_encoder.py"


def _fingerprint_in_a_new_process(encoder_path: Path) -> str:
    code = (
        "from pathlib import Path\n"
        "from pytest_xares.encoder import EncoderSpec, build\n"
        "from pytest_xares.encoder.fingerprint import fingerprint\n"
        f"print(fingerprint(build(EncoderSpec.parse({str(encoder_path)!r}, Path('/')))))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_editing_a_helper_module_the_encoder_imports_changes_the_fingerprint(tmp_path: Path) -> None:
    before = _fingerprint_in_a_new_process(_checkout(tmp_path / "a"))
    edited = HELPERS.replace("frames.pow(2).mean(-1)", "frames.pow(2).sum(-1)")
    assert _fingerprint_in_a_new_process(_checkout(tmp_path / "b", edited)) != before


def test_the_same_encoder_in_two_folders_has_one_fingerprint(tmp_path: Path) -> None:
    first = _checkout(tmp_path / "one")
    shutil.copytree(first.parent, tmp_path / "elsewhere" / "two")
    assert _fingerprint_in_a_new_process(first) == _fingerprint_in_a_new_process(
        tmp_path / "elsewhere" / "two" / first.name
    )


def test_weights_in_a_plain_tensor_attribute_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "c"))
    encoder = build(EncoderSpec.parse(str(_checkout(tmp_path / "c")), tmp_path))
    before = fingerprint(encoder)
    encoder.gain = torch.tensor([1.0, 1.0, 1.0, 2.0])
    assert fingerprint(encoder) != before
    encoder.gain = torch.ones(4)
    assert fingerprint(encoder) == before
    encoder.tables = [{"window": torch.hann_window(8).numpy()}]  # an array inside containers
    assert fingerprint(encoder) != before


def test_the_versions_of_the_distributions_it_imports_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "d"))
    encoder = build(EncoderSpec.parse(str(_checkout(tmp_path / "d")), tmp_path))
    user, distributions = code_of({type(encoder).__module__})
    assert {m.__name__ for m in user} >= {"helpers"} and "torch" in distributions
    before = fingerprint(encoder)
    real = importlib.metadata.version
    monkeypatch.setattr(
        fingerprints.importlib.metadata, "version", lambda name: "99.0" if name == "torch" else real(name)
    )
    assert fingerprint(encoder) != before
