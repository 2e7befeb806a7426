"""Encoder interface checks: each one tells the encoder's author what to fix.

A check is a function of the built encoder that returns nothing when it passes and raises
``CheckFailure`` with a fix-it message when it does not. Checks that make evaluation meaningless
when they fail are ``GATING``: task items skip with their reason.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

import torch

from pytest_xares.encoder.layers import LayerError, exposes_layers, run_layers
from pytest_xares.encoder.loading import describe_error
from pytest_xares.errors import XaresError


class CheckFailure(XaresError, AssertionError):
    """An interface check that did not pass; the message tells the encoder's author what to fix."""


class CheckSkipped(XaresError):
    """An interface check that does not apply to this encoder (it exposes no hidden states)."""


@dataclass(frozen=True)
class Check:
    name: str
    doc: str
    #: Returns what the check found out (the number of layers), or nothing.
    run: Callable[[torch.nn.Module, torch.device], dict[str, Any] | None]
    #: Checks that must pass first; when one fails this check is skipped, not run.
    needs: tuple[str, ...] = ()
    gating: bool = False


#: A clip length (seconds) for most checks, and the longest input the protocol promises.
CLIP_SECONDS = 2.0
LONG_SECONDS = 600.0


def signal(seconds: float, sampling_rate: int, seed: int, batch: int = 1) -> torch.Tensor:
    """A deterministic test input: a few tones in noise, at a realistic level.

    Inputs longer than 10 s repeat a 10 s signal, so the 10-minute input costs no more to make.
    """
    generator = torch.Generator().manual_seed(seed)
    n = int(round(seconds * sampling_rate))
    period = min(n, 10 * sampling_rate)
    t = torch.arange(period, dtype=torch.float64) / sampling_rate
    rows = []
    for _ in range(batch):
        freqs = 100 + 3000 * torch.rand(3, generator=generator, dtype=torch.float64)
        tones = sum(torch.sin(2 * math.pi * f * t) for f in freqs) / 3
        row = (0.3 * tones + 0.05 * torch.randn(period, generator=generator, dtype=torch.float64)).float()
        rows.append(row.repeat(-(-n // period))[:n])
    return torch.stack(rows)


def call(
    encoder: torch.nn.Module, audio: torch.Tensor, device: torch.device, as_float: bool = True, hint: str = ""
) -> torch.Tensor:
    """Run the encoder as the engine does (no gradients) and return its output on the CPU (the
    last of the hidden states where ``forward`` returns them all)."""
    return call_layers(encoder, audio, device, False, as_float, hint)[0]


def call_layers(
    encoder: torch.nn.Module,
    audio: torch.Tensor,
    device: torch.device,
    all_layers: bool,
    as_float: bool = True,
    hint: str = "",
) -> list[torch.Tensor]:
    """``call`` of every layer (``all_layers``: ``encoder.layers.run_layers``) or of the output alone."""
    try:
        with torch.inference_mode():
            outputs = run_layers(encoder, audio.to(device), all_layers)
    except torch.cuda.OutOfMemoryError:
        raise
    except LayerError as error:
        raise CheckFailure(f"for an input of shape {list(audio.shape)}, {error}") from None
    except (Exception, SystemExit) as error:  # an encoder's sys.exit() is a failed check, not the end of the run
        what = "hidden_states()" if all_layers and exposes_layers(encoder) else "the encoder"
        raise CheckFailure(
            f"calling {what} on a tensor of shape {list(audio.shape)} raised {describe_error(error)}"
            + (f"; {hint}" if hint else "")
        ) from None
    detached = [output.detach().cpu() for output in outputs]
    return [output.float() for output in detached] if as_float else detached


def _attributes(encoder: torch.nn.Module, device: torch.device) -> None:
    problems = []
    rate = getattr(encoder, "sampling_rate", None)
    if not _is_int(rate) or not 1000 <= rate <= 384_000:
        problems.append(f"sampling_rate must be the input rate in Hz as an int, e.g. 16000 (it is {rate!r})")
    dim = getattr(encoder, "output_dim", None)
    if not _is_int(dim) or dim < 1:
        problems.append(f"output_dim must be the embedding size as a positive int (it is {dim!r})")
    hop = getattr(encoder, "hop_size_in_ms", None)
    if not _is_real(hop) or not 0 < hop <= 10_000:
        problems.append(f"hop_size_in_ms must be the time between output frames in ms, e.g. 10 or 40 (it is {hop!r})")
    if problems:
        raise CheckFailure("; ".join(problems))


def _is_int(value: object) -> TypeGuard[int]:
    """An integer (Python's, numpy's, any ``numbers.Integral``) that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> TypeGuard[float]:
    """A real number (Python's, numpy's, any ``numbers.Real``) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _rate(encoder: torch.nn.Module) -> int:
    """The encoder's ``sampling_rate``: an integer once the attributes check has passed."""
    return cast(int, encoder.sampling_rate)


def _is_module(encoder: torch.nn.Module, device: torch.device) -> None:
    if not isinstance(encoder, torch.nn.Module):
        raise CheckFailure(f"{type(encoder).__name__} must subclass torch.nn.Module")


def _output_shape(encoder: torch.nn.Module, device: torch.device) -> None:
    audio = signal(CLIP_SECONDS, _rate(encoder), seed=1, batch=2)
    output = call(encoder, audio, device)
    if output.ndim != 3 or output.shape[0] != 2 or output.shape[2] != encoder.output_dim or output.shape[1] < 1:
        raise CheckFailure(
            f"for input [2, {audio.shape[1]}] the encoder returned shape {list(output.shape)}; "
            f"expected [2, frames, {encoder.output_dim}] (batch, frames >= 1, output_dim)"
        )


def _finite_float(encoder: torch.nn.Module, device: torch.device) -> None:
    audio = signal(CLIP_SECONDS, _rate(encoder), seed=2, batch=2)
    raw = call(encoder, audio, device, as_float=False)
    if not raw.is_floating_point():
        raise CheckFailure(f"the output dtype is {raw.dtype}; return floating-point embeddings")
    bad = (~torch.isfinite(raw)).sum().item()
    if bad:
        raise CheckFailure(f"{bad} of {raw.numel()} output values are NaN or infinite for an ordinary input")
    silence = call(encoder, torch.zeros_like(audio), device)
    if not torch.isfinite(silence).all():
        raise CheckFailure("the output holds NaN or infinite values for silence (log of zero energy? add a floor)")


def _mono_input(encoder: torch.nn.Module, device: torch.device) -> None:
    audio = signal(CLIP_SECONDS, _rate(encoder), seed=3)
    hint = "a 1-D input must be treated as a batch of one"
    output = call(encoder, audio[0], device, hint=hint)
    if output.ndim != 3 or output.shape[0] != 1:
        raise CheckFailure(
            f"for a 1-D input of {audio.shape[1]} samples the encoder returned shape {list(output.shape)}; "
            f"treat 1-D input as a batch of one and return [1, frames, {encoder.output_dim}]"
        )
    _same(output, call(encoder, audio, device), "a 1-D input and the same clip as a [1, samples] batch")


def expected_frames(encoder: torch.nn.Module, seconds: float) -> float:
    return seconds * 1000.0 / float(cast(numbers.Real, encoder.hop_size_in_ms))  # as the attributes check requires


def frames_agree(actual: int, expected: float) -> bool:
    """Within two frames or 5 %: centred STFTs and convolution stacks add or drop a frame or so."""
    return abs(actual - expected) <= max(2.0, 0.05 * expected)


def _hop_size(encoder: torch.nn.Module, device: torch.device) -> None:
    for seconds in (4.0, 10.0):
        audio = signal(seconds, _rate(encoder), seed=4)
        frames = call(encoder, audio, device).shape[1]
        expected = expected_frames(encoder, seconds)
        if not frames_agree(frames, expected):
            actual_hop = seconds * 1000.0 / frames
            raise CheckFailure(
                f"a {seconds:g} s input gave {frames} frames, but hop_size_in_ms={encoder.hop_size_in_ms} "
                f"means about {expected:.0f}; the frames are {actual_hop:.1f} ms apart: declare that hop, "
                f"or keep only the frames that cover real audio"
            )


def _long_input(encoder: torch.nn.Module, device: torch.device) -> None:
    audio = signal(LONG_SECONDS, _rate(encoder), seed=5)
    output = call(encoder, audio, device, hint="a 10-minute input must work: cut it into chunks the model accepts")
    expected = expected_frames(encoder, LONG_SECONDS)
    if output.ndim != 3 or not frames_agree(output.shape[1], expected):
        raise CheckFailure(
            f"a 10-minute input gave shape {list(output.shape)}, expected about {expected:.0f} frames; "
            f"cut long inputs into chunks the model accepts and concatenate the frames"
        )
    if not torch.isfinite(output).all():
        raise CheckFailure("a 10-minute input gave NaN or infinite values")


def _batch_consistency(encoder: torch.nn.Module, device: torch.device) -> None:
    batch = signal(CLIP_SECONDS, _rate(encoder), seed=6, batch=3)
    together = call(encoder, batch, device)
    for row in range(batch.shape[0]):
        alone = call(encoder, batch[row : row + 1], device)
        _same(
            together[row : row + 1],
            alone,
            f"clip {row} encoded inside a batch of 3 and alone",
            hint="embeddings must not depend on batch neighbours (batch statistics, padding masks, train-mode layers)",
        )


def _deterministic(encoder: torch.nn.Module, device: torch.device) -> None:
    audio = signal(CLIP_SECONDS, _rate(encoder), seed=7, batch=2)
    _same(
        call(encoder, audio, device),
        call(encoder, audio, device),
        "two calls on the same input",
        hint="look for dropout or other randomness active in eval mode, or state kept between calls",
    )


def _hidden_states(encoder: torch.nn.Module, device: torch.device) -> dict[str, Any] | None:
    """What ``--xares-layers`` relies on, for every layer: the output's shape, finite floats, the
    last layer being the output, the same for a clip alone as inside a batch."""
    batch = signal(CLIP_SECONDS, _rate(encoder), seed=8, batch=3)
    layers = call_layers(encoder, batch, device, all_layers=True, as_float=False)
    if len(layers) < 2:
        raise CheckSkipped(
            "the encoder exposes no hidden states (a hidden_states(audio) method, or forward returning the "
            "sequence of them); --xares-layers other than 'last' needs them"
        )
    output = call(encoder, batch, device)
    for number, layer in enumerate(layers):
        if list(layer.shape) != list(output.shape):
            raise CheckFailure(
                f"hidden state {number} of {len(layers)} has shape {list(layer.shape)} for input {list(batch.shape)}, "
                f"but the output has {list(output.shape)}: every layer must have the output's frames and output_dim"
            )
        if not layer.is_floating_point() or not torch.isfinite(layer).all():
            raise CheckFailure(f"hidden state {number} of {len(layers)} is not finite floating point ({layer.dtype})")
    _same(
        layers[-1].float(),
        output,
        "the last hidden state and the output",
        hint="the last hidden state must be what forward() returns",
    )
    alone = call_layers(encoder, batch[1:2], device, all_layers=True)
    for number, (together, single) in enumerate(zip(layers, alone)):
        _same(
            together[1:2].float(),
            single,
            f"hidden state {number} of clip 1 encoded inside a batch of 3 and alone",
            hint="embeddings must not depend on batch neighbours (batch statistics, padding masks, train-mode layers)",
        )
    return {"layers": len(layers)}


def _same(a: torch.Tensor, b: torch.Tensor, what: str, hint: str = "") -> None:
    if a.shape != b.shape:
        raise CheckFailure(f"{what} gave shapes {list(a.shape)} and {list(b.shape)}")
    scale = max(a.abs().max().item(), 1e-6)
    difference = (a - b).abs().max().item()
    if difference > 1e-3 * scale:
        raise CheckFailure(
            f"{what} differ by up to {difference:.3g} (output scale {scale:.3g})" + (f"; {hint}" if hint else "")
        )


CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check("is_module", "the encoder is a torch.nn.Module", _is_module, gating=True),
        Check(
            "attributes",
            "sampling_rate, output_dim, hop_size_in_ms are present and sane",
            _attributes,
            ("is_module",),
            True,
        ),
        Check("output_shape", "output is [batch, frames, output_dim]", _output_shape, ("attributes",), True),
        Check("finite_float", "output is floating point and finite", _finite_float, ("output_shape",), True),
        Check("deterministic", "two calls on the same input agree", _deterministic, ("output_shape",)),
        Check("mono_input", "a 1-D input is accepted as a batch of one", _mono_input, ("deterministic",)),
        Check("hop_size", "frame count matches hop_size_in_ms", _hop_size, ("output_shape",)),
        Check("long_input", "a 10-minute input works", _long_input, ("hop_size",)),
        Check(
            "batch_consistency",
            "a clip alone and inside a batch embed the same",
            _batch_consistency,
            ("deterministic",),
        ),
        Check(
            "hidden_states",
            "every hidden state is shaped as the output, finite and batch-invariant, the last one the output",
            _hidden_states,
            ("deterministic",),
        ),
    )
}
