"""Each broken encoder fails the check that names its defect, with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_xares.testing import BANDS_ENCODER, encoder_file

# Variations of the correct BandsEncoder, each with one defect.
DEFECTS = {
    "not_a_module": (
        "is_module",
        "must subclass torch.nn.Module",
        BANDS_ENCODER.replace("(torch.nn.Module)", "").replace(
            "super().__init__()\n        self.scale = torch.nn.Parameter(torch.ones(16))", "self.scale = torch.ones(16)"
        ),
    ),
    "no_rate": (
        "attributes",
        "sampling_rate must be",
        BANDS_ENCODER.replace("sampling_rate = 16000", "sampling_rate = '16k'"),
    ),
    "bad_dim": ("attributes", "output_dim must be", BANDS_ENCODER.replace("output_dim = 16", "output_dim = 0")),
    "wrong_dim": (
        "output_shape",
        "expected [2, frames, 32]",
        BANDS_ENCODER.replace("output_dim = 16", "output_dim = 32"),
    ),
    "pooled": (
        "output_shape",
        "returned shape [2, 16]",
        BANDS_ENCODER.replace("* self.scale", "* self.scale\n        return out.mean(1)").replace(
            "return torch.log", "out = torch.log"
        ),
    ),
    "raises": (
        "output_shape",
        "raised ValueError: boom",
        BANDS_ENCODER.replace("if audio.ndim == 1:", "raise ValueError('boom')\n        if audio.ndim == 1:"),
    ),
    "nans": ("finite_float", "NaN or infinite", BANDS_ENCODER.replace("bands + 1e-6", "bands - 1e9")),
    "silence_nan": ("finite_float", "for silence", BANDS_ENCODER.replace("bands + 1e-6", "bands")),
    "integer": (
        "finite_float",
        "dtype is torch.int64",
        BANDS_ENCODER.replace("* self.scale", "* self.scale\n        return out.long()").replace(
            "return torch.log", "out = torch.log"
        ),
    ),
    "no_1d": (
        "mono_input",
        "1-D input",
        BANDS_ENCODER.replace("if audio.ndim == 1:\n            audio = audio[None]", "pass"),
    ),
    "double_hop": (
        "hop_size",
        "the frames are 10.0 ms apart",
        BANDS_ENCODER.replace("hop_size_in_ms = 10", "hop_size_in_ms = 20"),
    ),
    "batch_stats": (
        "batch_consistency",
        "must not depend on batch neighbours",
        BANDS_ENCODER.replace("* self.scale", "* self.scale - torch.log(bands + 1e-6).mean(0, keepdim=True)"),
    ),
    "random": (
        "deterministic",
        "dropout or other randomness",
        BANDS_ENCODER.replace("* self.scale", "* self.scale + torch.rand(1)"),
    ),
    "short_only": (
        "long_input",
        "10-minute input",
        BANDS_ENCODER.replace(
            "if audio.ndim == 1:", "assert audio.shape[-1] < 16000 * 60, 'too long'\n        if audio.ndim == 1:"
        ),
    ),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_a_defect_fails_its_check_and_only_that_check(pytester: pytest.Pytester, defect: str) -> None:
    check, message, source = DEFECTS[defect]
    spec = encoder_file(pytester.path, source)
    result = pytester.runpytest(f"--xares-encoder={spec}", "-m", "xares_check", "-p", "no:cacheprovider")
    reports = {
        r.nodeid.rsplit("::", 1)[1]: r for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "call"
    }
    failed = {name for name, r in reports.items() if r.failed}
    assert check in failed
    assert message in str(reports[check].longrepr)
    assert "Traceback" not in str(reports[check].longrepr)
    # Later checks that need the failed one are skipped with the reason, not failed again.
    assert failed == {check} or defect in ("nans", "silence_nan", "raises", "pooled", "wrong_dim")


def test_the_correct_encoder_passes_every_check(pytester: pytest.Pytester) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    pytester.runpytest(f"--xares-encoder={spec}", "-m", "xares_check").assert_outcomes(passed=10)


def test_an_encoder_that_cannot_load_fails_loads_and_every_task_skips(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    spec = encoder_file(
        pytester.path,
        BANDS_ENCODER.replace("super().__init__()", "super().__init__()\n        open('/nonexistent/weights.pt')"),
    )
    result = pytester.runpytest(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny or encoder", "-rs"
    )
    result.assert_outcomes(failed=1, skipped=11)
    result.stdout.fnmatch_lines(
        [
            "*encoder check 'loads' failed*constructing BandsEncoder() raised FileNotFoundError*weights.pt*",
            "*tiny::mlp*encoder check 'loads' did not pass*",
        ]
    )


def test_a_gating_failure_skips_task_items_with_its_reason(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, DEFECTS["nans"][2])
    result = pytester.runpytest(f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*encoder check 'finite_float' did not pass*NaN or infinite*"])


def test_a_hop_mistake_does_not_block_clip_tasks(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, DEFECTS["double_hop"][2])
    result = pytester.runpytest(f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny or hop_size")
    result.assert_outcomes(passed=2, failed=1)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "class AEncoder(torch.nn.Module): pass\nclass BEncoder(torch.nn.Module): pass\n",
            "exactly one class whose name ends in 'Encoder' (found: AEncoder, BEncoder)",
        ),
        ("import not_a_module_anywhere\n", "importing * raised ModuleNotFoundError"),
    ],
)
def test_encoder_files_that_cannot_be_used(pytester: pytest.Pytester, source: str, message: str) -> None:
    spec = encoder_file(pytester.path, source)
    result = pytester.runpytest(f"--xares-encoder={spec}", "-k", "loads")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


def test_a_missing_encoder_file(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--xares-encoder=nowhere.py", "-k", "loads")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*encoder file */nowhere.py does not exist*"])
