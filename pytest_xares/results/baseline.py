"""Score gates against a baseline file committed to a model repository.

The file holds, per task and method, the accepted score and optionally its own tolerance::

    {
      "format": 1,
      "tolerance": 0.05,
      "scores": {
        "esc50": {"mlp": {"score": 0.857, "tolerance": 0.02}, "knn": {"score": 0.62}}
      }
    }

It is not keyed by machine: the scores of one encoder, data and seed do not depend on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_xares.errors import XaresError
from pytest_xares.files import write_atomic

FORMAT = 1

#: The default absolute tolerance: about twice the seed noise measured. Retraining the probes of
#: the demo suite with ten seeds moves a task's MLP score by a standard deviation of at most 0.023
#: (demo_count, 100 test crops; `python benchmarks/seed_noise.py`), but for demo_captions, whose
#: 18 test clips make its recall@1 move by 0.038; kNN does not depend on the seed. Real tasks,
#: with hundreds to thousands of test clips, move less: give their entries a tighter tolerance
#: of their own where it matters.
DEFAULT_TOLERANCE = 0.05

#: An improvement larger than this many tolerances is flagged: refresh the baseline.
IMPROVEMENT_FACTOR = 2.0


class BaselineError(XaresError, ValueError):
    """The baseline file cannot be read."""


@dataclass(frozen=True)
class Entry:
    score: float
    tolerance: float | None = None


@dataclass(frozen=True)
class Verdict:
    """How a score compares with its baseline entry."""

    status: str  # "pass", "regressed", "improved" or "missing"
    baseline: float | None = None
    difference: float | None = None
    tolerance: float | None = None

    def message(self, task: str, method: str, score: float) -> str:
        if self.status == "missing":
            return f"{task} {method}: no baseline entry (score {score:.4f}); add it with --xares-update-baseline"
        if not math.isfinite(score):
            what = "not a number" if math.isnan(score) else "not finite"
            return f"{task} {method} scored {score}, {what}: it never passes the baseline {self.baseline:.4f}"
        change = "fell" if self.status == "regressed" else "rose"
        return (
            f"{task} {method} {change} from the baseline {self.baseline:.4f} to {score:.4f} "
            f"(difference {self.difference:+.4f}, tolerance {self.tolerance:.4f})"
        )


@dataclass
class Baseline:
    path: Path
    tolerance: float
    entries: dict[str, dict[str, Entry]]

    @classmethod
    def load(cls, path: Path, default_tolerance: float | None = None, missing_ok: bool = False) -> Baseline:
        """Read ``path``; raises ``BaselineError`` naming the entry for a score or tolerance that
        cannot gate (not finite, a negative tolerance). A file that does not exist is an error,
        unless ``missing_ok`` (``--xares-update-baseline`` creates it): then it is empty."""
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
                    method: Entry(float(e["score"]), _optional_float(e.get("tolerance")))
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
                if entry.tolerance is not None and not (math.isfinite(entry.tolerance) and entry.tolerance >= 0):
                    raise BaselineError(
                        f"the baseline file {path}: {task} {method} has the tolerance {entry.tolerance}, "
                        f"not a finite number >= 0"
                    )
        tolerance = default_tolerance if default_tolerance is not None else file_tolerance
        return cls(path, DEFAULT_TOLERANCE if tolerance is None else tolerance, entries)

    def judge(self, task: str, method: str, score: float, higher_is_better: bool = True) -> Verdict:
        entry = self.entries.get(task, {}).get(method)
        if entry is None:
            return Verdict("missing")
        tolerance = self.tolerance if entry.tolerance is None else entry.tolerance
        if not math.isfinite(score):  # NaN passes every comparison: it must fail this one
            return Verdict("regressed", entry.score, math.nan, tolerance)
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
        return Verdict(status, entry.score, difference, tolerance)

    def updated(self, scores: dict[tuple[str, str], float]) -> dict[str, Any]:
        """The file's content with ``scores`` merged in: other entries and hand-set tolerances stay."""
        merged = {task: dict(methods) for task, methods in self.entries.items()}
        for (task, method), score in scores.items():
            if not math.isfinite(score):
                raise BaselineError(f"{task} {method} scored {score}, not a number: it cannot go into {self.path}")
            old = merged.setdefault(task, {}).get(method)
            merged[task][method] = Entry(round(score, 6), old.tolerance if old else None)
        return {
            "format": FORMAT,
            "tolerance": self.tolerance,
            "scores": {
                task: {
                    method: {"score": e.score, **({"tolerance": e.tolerance} if e.tolerance is not None else {})}
                    for method, e in sorted(methods.items())
                }
                for task, methods in sorted(merged.items())
            },
        }


def update_baseline(path: Path, scores: dict[tuple[str, str], float], default_tolerance: float | None = None) -> None:
    """Merge ``scores`` into the baseline file, replacing it atomically (only the xdist controller,
    or the single process, writes it, once at the end of a run)."""
    content = Baseline.load(path, default_tolerance, missing_ok=True).updated(scores)
    write_atomic(path, json.dumps(content, indent=2) + "\n", option="--xares-baseline")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
