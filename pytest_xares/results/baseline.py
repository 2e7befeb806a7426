"""Score gates against a baseline file committed to a model repository.

The file holds, per task and method, the accepted score and optionally its own tolerance, or the
spread of the score over seeds that ``--xares-update-baseline`` measured in a run with
``--xares-seeds=N`` (``std``, over ``seeds``), from which the entry's tolerance is derived::

    {
      "format": 1,
      "tolerance": 0.05,
      "scores": {
        "esc50": {"mlp": {"score": 0.857, "tolerance": 0.02}, "knn": {"score": 0.62}},
        "cremad": {"mlp": {"score": 0.767, "std": 0.004, "seeds": 5}},
        "vocalsound": {"mlp": {"score": 0.912, "layers": "weighted"}}
      }
    }

An entry scored on other layers than the last (``--xares-layers``) says which (``layers``); a
run that scores other layers than the entry's does not pass or fail it, it fails for comparing
unlike with unlike.

An entry's tolerance is the first of: its own ``tolerance`` (set by hand; kept by every update);
one derived from its ``std`` (``Entry.derived_tolerance``: ``SPREAD_FACTOR`` standard deviations of
the difference between the entry's mean over its seeds and the gated run's mean over its own, at
least ``TOLERANCE_FLOOR``); ``--xares-tolerance``; the file's ``tolerance``; ``DEFAULT_TOLERANCE``.

It is not keyed by machine: the scores of one encoder, data and seed do not depend on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_xares.errors import XaresError
from pytest_xares.files import write_atomic

FORMAT = 1

#: The tolerance of entries with neither a tolerance nor a measured spread. Retraining the demo
#: suite's heads with 30 seeds (`python benchmarks/seed_noise.py --seeds 30`, log-mel encoder)
#: gives standard deviations of the MLP score from 0.004 (demo_pitch, 480 test clips) to 0.058
#: (demo_captions, 18): no single tolerance fits them. 0.05 is about three standard deviations
#: of the median task (demo_events: 0.018 and 0.013 in two sets of 30 seeds); an entry written
#: by an N-seed run gets its own from its spread (``Entry.derived_tolerance``).
DEFAULT_TOLERANCE = 0.05

#: An entry with a spread measured over seeds gates with this many standard deviations of the
#: difference between its mean over its seeds and the gated run's mean over its own ...
SPREAD_FACTOR = 3.0
#: ... but never with less than this: a few seeds can underestimate the spread, and kNN has none.
TOLERANCE_FLOOR = 0.01

#: An improvement larger than this many tolerances is flagged: refresh the baseline.
IMPROVEMENT_FACTOR = 2.0


class BaselineError(XaresError, ValueError):
    """The baseline file cannot be read."""


@dataclass(frozen=True)
class Entry:
    score: float
    tolerance: float | None = None
    #: The standard deviation of the score over ``seeds`` seeds, measured by an N-seed update.
    std: float | None = None
    seeds: int | None = None
    #: The layers the score is of (``--xares-layers``, or ``--xares-frame-layers``): ``last``, ``all``, …
    layers: str = "last"

    def derived_tolerance(self, run_seeds: int = 1) -> float | None:
        """``SPREAD_FACTOR`` standard deviations of the difference between this entry's mean over
        ``seeds`` seeds and a run's mean over ``run_seeds``: ``SPREAD_FACTOR × std × √(1/seeds +
        1/run_seeds)``, at least ``TOLERANCE_FLOOR``; ``None`` without a measured spread."""
        if self.std is None or self.seeds is None:
            return None
        return max(TOLERANCE_FLOOR, SPREAD_FACTOR * self.std * math.sqrt(1 / self.seeds + 1 / run_seeds))

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            **({"tolerance": self.tolerance} if self.tolerance is not None else {}),
            **({"std": self.std, "seeds": self.seeds} if self.std is not None else {}),
            **({"layers": self.layers} if self.layers != "last" else {}),
        }


@dataclass(frozen=True)
class Verdict:
    """How a score compares with its baseline entry."""

    status: str  # "pass", "regressed", "improved", "missing" or "mismatch" (of other layers)
    baseline: float | None = None
    difference: float | None = None
    tolerance: float | None = None
    #: Where the tolerance came from, where it is the entry's seed spread: "3 × the std 0.0230 over 10 seeds".
    basis: str | None = None
    #: For a mismatch: the layers of the entry's score, and of this run's.
    layers: tuple[str, str] | None = None

    def message(self, task: str, method: str, score: float) -> str:
        if self.status == "missing":
            return f"{task} {method}: no baseline entry (score {score:.4f}); add it with --xares-update-baseline"
        if self.status == "mismatch":
            entry, run = self.layers or ("last", "last")
            return (
                f"{task} {method}: the baseline entry {self.baseline:.4f} scores the layers '{entry}', this run "
                f"'{run}' ({score:.4f}): run with the entry's --xares-layers (or --xares-frame-layers), or replace "
                f"the entry with --xares-update-baseline"
            )
        if not math.isfinite(score):
            what = "not a number" if math.isnan(score) else "not finite"
            return f"{task} {method} scored {score}, {what}: it never passes the baseline {self.baseline:.4f}"
        change = "fell" if self.status == "regressed" else "rose"
        return (
            f"{task} {method} {change} from the baseline {self.baseline:.4f} to {score:.4f} "
            f"(difference {self.difference:+.4f}, tolerance {self.tolerance:.4f}"
            + (f": {self.basis})" if self.basis else ")")
        )


@dataclass
class Baseline:
    path: Path
    tolerance: float
    entries: dict[str, dict[str, Entry]]
    #: The seeds of the run that is gated (``--xares-seeds``): the derived tolerances depend on them.
    seeds: int = 1

    @classmethod
    def load(
        cls, path: Path, default_tolerance: float | None = None, missing_ok: bool = False, seeds: int = 1
    ) -> Baseline:
        """Read ``path``; raises ``BaselineError`` naming the entry for a score or tolerance that
        cannot gate (not finite, a negative tolerance). A file that does not exist is an error,
        unless ``missing_ok`` (``--xares-update-baseline`` creates it): then it is empty. ``seeds``:
        how many seeds the gated run trains each head with."""
        try:
            document = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            if not missing_ok:
                raise BaselineError(
                    f"the baseline file {path} does not exist: create it from a trusted run with "
                    f"--xares-update-baseline, or check the path"
                ) from None
            document = {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BaselineError(f"the baseline file {path} is not valid JSON ({error})") from None
        except OSError as error:  # a directory, no permission
            raise BaselineError(f"the baseline file {path} cannot be read ({error.strerror or error})") from None
        try:
            entries = {
                task: {
                    method: Entry(
                        float(e["score"]),
                        _optional_float(e.get("tolerance")),
                        _optional_float(e.get("std")),
                        None if e.get("seeds") is None else int(e["seeds"]),
                        str(e.get("layers", "last")),
                    )
                    for method, e in methods.items()
                }
                for task, methods in document.get("scores", {}).items()
            }
            file_tolerance = _optional_float(document.get("tolerance"))
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise BaselineError(
                f"the baseline file {path} is malformed ({type(error).__name__}: {error}); "
                f"expected {{'scores': {{task: {{method: {{'score': float}}}}}}}}"
            ) from None
        if file_tolerance is not None and not (math.isfinite(file_tolerance) and file_tolerance >= 0):
            raise BaselineError(f"the baseline file {path}: its tolerance {file_tolerance} is not a finite number >= 0")
        for task, methods in entries.items():
            for method, entry in methods.items():
                if not math.isfinite(entry.score):
                    raise BaselineError(
                        f"the baseline file {path}: {task} {method} has the score {entry.score}, not a number"
                    )
                for what in ("tolerance", "std"):
                    value = getattr(entry, what)
                    if value is not None and not (math.isfinite(value) and value >= 0):
                        raise BaselineError(
                            f"the baseline file {path}: {task} {method} has the {what} {value}, not a finite number >= 0"
                        )
                if entry.std is not None and (entry.seeds is None or entry.seeds < 2):
                    raise BaselineError(
                        f"the baseline file {path}: {task} {method} has a std over seeds but not the number of "
                        f"seeds (at least 2) it was measured over: {entry.seeds!r}"
                    )
        tolerance = default_tolerance if default_tolerance is not None else file_tolerance
        return cls(path, DEFAULT_TOLERANCE if tolerance is None else tolerance, entries, seeds)

    def judge(
        self, task: str, method: str, score: float, higher_is_better: bool = True, layers: str = "last"
    ) -> Verdict:
        """How ``score`` (of ``layers``) compares with the entry of ``task`` and ``method``."""
        entry = self.entries.get(task, {}).get(method)
        if entry is None:
            return Verdict("missing")
        if entry.layers != layers:
            return Verdict("mismatch", entry.score, layers=(entry.layers, layers))
        tolerance, basis = self.tolerance_of(entry)
        if not math.isfinite(score):  # NaN passes every comparison: it must fail this one
            return Verdict("regressed", entry.score, math.nan, tolerance, basis)
        difference = score - entry.score
        gain = difference if higher_is_better else -difference
        slack = 1e-9  # a score exactly at the tolerance passes, whatever the float rounding
        status = (
            "regressed"
            if gain < -tolerance - slack
            else "improved"
            if gain > IMPROVEMENT_FACTOR * tolerance + slack
            else "pass"
        )
        return Verdict(status, entry.score, difference, tolerance, basis)

    def tolerance_of(self, entry: Entry) -> tuple[float, str | None]:
        """The tolerance that gates ``entry`` (see the module's docstring), and what it was derived from."""
        if entry.tolerance is not None:
            return entry.tolerance, None
        derived = entry.derived_tolerance(self.seeds)
        if derived is None or entry.std is None:
            return self.tolerance, None
        rule = f"{SPREAD_FACTOR:g} × the std {entry.std:.4f} over {entry.seeds} seeds"
        rule += f" × √(1/{entry.seeds} + 1/{self.seeds})"
        return derived, rule if derived > TOLERANCE_FLOOR else f"the floor {TOLERANCE_FLOOR:g}, above {rule}"

    def updated(
        self,
        scores: dict[tuple[str, str], float],
        spreads: Mapping[tuple[str, str], tuple[float, int]] | None = None,
        layers: Mapping[tuple[str, str], str] | None = None,
    ) -> dict[str, Any]:
        """The file's content with ``scores`` merged in: other entries and hand-set tolerances stay.
        ``spreads`` are the standard deviations over seeds (and their number) of an N-seed run; an
        entry without one keeps the spread it had. ``layers``: the layers of scores not of the last."""
        merged = {task: dict(methods) for task, methods in self.entries.items()}
        for (task, method), score in scores.items():
            if not math.isfinite(score):
                raise BaselineError(f"{task} {method} scored {score}, not a number: it cannot go into {self.path}")
            old = merged.setdefault(task, {}).get(method)
            std, seeds = (spreads or {}).get((task, method), (None, None))
            if std is None and old is not None:
                std, seeds = old.std, old.seeds
            merged[task][method] = Entry(
                round(score, 6),
                old.tolerance if old else None,
                None if std is None else round(std, 6),
                seeds,
                (layers or {}).get((task, method), "last"),
            )
        return {
            "format": FORMAT,
            "tolerance": self.tolerance,
            "scores": {
                task: {method: e.to_dict() for method, e in sorted(methods.items())}
                for task, methods in sorted(merged.items())
            },
        }


def update_baseline(
    path: Path,
    scores: dict[tuple[str, str], float],
    default_tolerance: float | None = None,
    spreads: Mapping[tuple[str, str], tuple[float, int]] | None = None,
    layers: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Merge ``scores`` (and the ``spreads`` of an N-seed run, the ``layers`` of scores not of the
    last) into the baseline file, replacing it atomically (only the xdist controller, or the
    single process, writes it, once at the end of a run)."""
    content = Baseline.load(path, default_tolerance, missing_ok=True).updated(scores, spreads, layers)
    write_atomic(path, json.dumps(content, indent=2) + "\n", option="--xares-baseline")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
