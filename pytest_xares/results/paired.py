"""What a score is computed from, clip by clip, and the paired bootstrap of two encoders' scores.

Every result keeps, per fold, its test clips' keys and the per-clip arrays its metric is computed
from (``TaskResult.per_clip``), compressed:

=============  ==========================================================================
kind           arrays, one row per test clip (crop, utterance)
=============  ==========================================================================
accuracy       ``correct``: 1 where the prediction was right
map            ``ranks`` [clips, classes]: each class's scores as dense ranks (the order and
               ties are all that average precision reads), ``targets`` 0/1
pearson        ``predicted``, ``targets``
f1_macro,      ``tp``, ``fp``, ``fn`` [clips, classes]: each clip's segment counts
f1_micro
wer            ``errors``, ``words``: each utterance's word errors and reference words
recall_at_1    ``audio_to_text`` (the clip's hit), ``text_to_audio`` (its captions' hits),
               ``captions`` (their number)
=============  ==========================================================================

Each metric is recomputed from these arrays weighted by how often a resample draws each clip, so
it need not be a mean over clips. Two results on the same clips are resampled together: a draw
picks the clips once and rescores both, and the percentile interval of the differences says how
far the gap between two encoders could move with another test set of the same size. Results whose
test clips differ are refused (``PairingError``).

A result of heads trained with several seeds (``--xares-seeds=N``) keeps the arrays of every seed
(the test clips are the same): its score is the mean over the seeds, and each resample rescores
every seed and takes their mean, so a comparison pairs the very scores the tables show.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_xares.errors import XaresError

if TYPE_CHECKING:
    from pytest_xares.heads.metrics import Outcome
    from pytest_xares.results.scores import TaskResult

#: Beyond this many values (clips × classes) mAP's ranks are not kept: its comparisons are unpaired.
MAX_VALUES = 4_000_000
#: How close the per-clip data must bring back the recorded score to be trusted.
TOLERANCE = 1e-9


class PairingError(XaresError):
    """Two results that cannot be paired: their test clips differ, or their per-clip data is damaged."""


# --- writing: from a head's outcomes to the results file -----------------------------------------


def per_clip(
    outcomes: Sequence[Outcome], test_keys: Sequence[Sequence[str]], more_seeds: Sequence[Sequence[Outcome]] = ()
) -> list[dict[str, Any]] | None:
    """The per-clip record of each fold, for ``TaskResult.per_clip``; ``None`` when a head gave no
    per-unit data, when its units are not the test clips, or when it would be too large.

    ``outcomes`` are the folds of the first seed; ``more_seeds`` those of every further seed of
    ``--xares-seeds``, kept beside the first (``"seeds"``): the result's score is their mean, and
    so is what a comparison recomputes on each resample."""
    seeds = [list(outcomes), *map(list, more_seeds)]
    if any(len(folds) != len(test_keys) for folds in seeds):
        raise ValueError("per-clip data of every seed needs one outcome per fold")
    total = 0
    folds = []
    for k, keys in enumerate(test_keys):
        kept = []
        for outcome in (folds_of_seed[k] for folds_of_seed in seeds):
            if outcome.per_unit is None or outcome.units != len(keys):
                return None
            kind, arrays = outcome.per_unit
            if kind == "map":
                scores = np.asarray(arrays["scores"])
                total += scores.size
                if total > MAX_VALUES:  # over every fold and seed: the file's size
                    return None
                arrays = {"ranks": _dense_ranks(scores), "targets": np.asarray(arrays["targets"])}
            kept.append((kind, {name: encode_array(array) for name, array in arrays.items()}))
        fold: dict[str, Any] = {
            "kind": kept[0][0],
            "keys": _pack(json.dumps(list(keys)).encode("utf-8")),
            "arrays": kept[0][1],
        }
        if len(kept) > 1:
            fold["seeds"] = [arrays for _, arrays in kept[1:]]
        folds.append(fold)
    return folds


def _dense_ranks(scores: np.ndarray) -> np.ndarray:
    """Each column's values replaced by their rank among its distinct values (ties share one)."""
    ranks = np.empty(scores.shape, dtype=np.uint16 if len(scores) < 2**16 else np.uint32)
    for column in range(scores.shape[1]):
        ranks[:, column] = np.unique(scores[:, column], return_inverse=True)[1].reshape(-1)
    return ranks


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """An array as JSON: its dtype, its shape and its bytes, compressed. Whole numbers are stored
    in the smallest unsigned type that holds them exactly."""
    array = np.asarray(array)
    if array.dtype.kind in "biuf" and array.size and np.all(array >= 0) and np.all(array == np.round(array)):
        top = array.max()
        smallest = next((t for t in (np.uint8, np.uint16, np.uint32) if top <= np.iinfo(t).max), None)
        array = array if smallest is None else array.astype(smallest)
    little = array.astype(array.dtype.newbyteorder("<"))
    return {"dtype": little.dtype.str, "shape": list(array.shape), "data": _pack(little.tobytes())}


def decode_array(stored: dict[str, Any]) -> np.ndarray:
    """What ``encode_array`` wrote; raises ``ValueError`` for anything else."""
    data = _unpack(stored["data"])
    shape = tuple(int(n) for n in stored["shape"])
    array = np.frombuffer(data, dtype=np.dtype(stored["dtype"]))
    if array.size != math.prod(shape):
        raise ValueError(f"{array.size} values for the shape {shape}")
    return array.reshape(shape)


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 9)).decode("ascii")


def _unpack(text: str) -> bytes:
    try:
        return zlib.decompress(base64.b64decode(text, validate=True))
    except (zlib.error, ValueError, TypeError) as error:
        raise ValueError(f"not compressed per-clip data ({error})") from None


# --- reading: one fold's clips and how its score is recomputed -----------------------------------


@dataclass(frozen=True)
class ClipScores:
    """One fold of a result: its test clips' keys and its score as a function of draw counts.

    ``arrays`` are the first seed's; ``seeds`` those of the further seeds of ``--xares-seeds``,
    on the same clips: the score is the mean over all of them."""

    kind: str
    keys: tuple[str, ...]
    arrays: dict[str, np.ndarray]
    seeds: tuple[dict[str, np.ndarray], ...] = ()

    @classmethod
    def of(cls, stored: dict[str, Any]) -> ClipScores:
        keys = json.loads(_unpack(stored["keys"]))
        every = [
            {name: decode_array(a) for name, a in arrays.items()}
            for arrays in [stored["arrays"], *stored.get("seeds", [])]
        ]
        if stored["kind"] not in RESCORERS or any(len(a) != len(keys) for arrays in every for a in arrays.values()):
            raise ValueError(f"per-clip data of kind {stored['kind']!r} that does not fit its {len(keys)} clips")
        return cls(stored["kind"], tuple(keys), every[0], tuple(every[1:]))

    def reordered(self, keys: Sequence[str]) -> ClipScores:
        """The same clips in the order of ``keys`` (the same set)."""
        where = {key: i for i, key in enumerate(self.keys)}
        order = np.array([where[key] for key in keys])
        arrays, *seeds = ({name: a[order] for name, a in each.items()} for each in (self.arrays, *self.seeds))
        return ClipScores(self.kind, tuple(keys), arrays, tuple(seeds))

    def rescorer(self) -> Callable[[np.ndarray], float]:
        """The score when clip ``i`` is drawn ``counts[i]`` times: with several seeds, their mean."""
        if not self.seeds:
            return RESCORERS[self.kind](self.arrays)
        scorers = [RESCORERS[self.kind](arrays) for arrays in (self.arrays, *self.seeds)]
        return lambda counts: float(np.mean([scorer(counts) for scorer in scorers]))


def _weighted_mean(values: np.ndarray, counts: np.ndarray, over: np.ndarray | None = None) -> float:
    total = counts.sum() if over is None else counts @ over
    return float(counts @ values / total) if total > 0 else math.nan


def _accuracy(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
    correct = a["correct"].astype(np.float64)
    return lambda counts: _weighted_mean(correct, counts)


def _map(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
    from pytest_xares.heads.metrics import map_outcome

    return map_outcome(a["ranks"].astype(np.float64), a["targets"].astype(np.float64)).rescore


def _pearson(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
    from pytest_xares.heads.metrics import pearson

    predicted, targets = a["predicted"].astype(np.float64), a["targets"].astype(np.float64)
    return lambda counts: pearson(predicted, targets, counts)


def _f1(average: str) -> Callable[[dict[str, np.ndarray]], Callable[[np.ndarray], float]]:
    def rescorer(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
        from pytest_xares.heads.metrics import f1_from_counts

        tp, fp, fn = (a[name].astype(np.float64) for name in ("tp", "fp", "fn"))
        return lambda counts: f1_from_counts(counts @ tp, counts @ fp, counts @ fn, average)  # type: ignore[arg-type]

    return rescorer


def _wer(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
    errors, words = a["errors"].astype(np.float64), a["words"].astype(np.float64)
    return lambda counts: max(0.0, 1.0 - _weighted_mean(errors, counts, words)) if counts @ words > 0 else math.nan


def _recall(a: dict[str, np.ndarray]) -> Callable[[np.ndarray], float]:
    audio, text, captions = (a[name].astype(np.float64) for name in ("audio_to_text", "text_to_audio", "captions"))
    return lambda counts: (_weighted_mean(audio, counts) + _weighted_mean(text, counts, captions)) / 2


RESCORERS: dict[str, Callable[[dict[str, np.ndarray]], Callable[[np.ndarray], float]]] = {
    "accuracy": _accuracy,
    "map": _map,
    "pearson": _pearson,
    "f1_macro": _f1("macro"),
    "f1_micro": _f1("micro"),
    "wer": _wer,
    "recall_at_1": _recall,
}


def clip_scores(result: TaskResult) -> list[ClipScores] | None:
    """The folds of ``result`` with their per-clip data, checked to give back its fold scores;
    ``None`` when it has none (an older results file, a test set too large to keep)."""
    if not result.per_clip:
        return None
    try:
        folds = [ClipScores.of(stored) for stored in result.per_clip]
    except (KeyError, TypeError, ValueError) as error:
        raise PairingError(f"{result.task} {result.method}: the per-clip data cannot be read ({error})") from None
    if len(folds) != len(result.fold_scores):
        raise PairingError(
            f"{result.task} {result.method}: per-clip data of {len(folds)} folds for {len(result.fold_scores)} scores"
        )
    for fold, recorded in zip(folds, result.fold_scores):
        again = fold.rescorer()(np.ones(len(fold.keys)))
        if not abs(again - recorded) <= TOLERANCE:
            raise PairingError(
                f"{result.task} {result.method}: the per-clip data gives {again:.6f}, not the recorded "
                f"score {recorded:.6f}: the file was changed after it was written"
            )
    return folds


# --- the paired bootstrap -----------------------------------------------------------------------


def aligned(first: list[ClipScores], other: list[ClipScores], what: str) -> list[ClipScores]:
    """``other``'s folds with their clips in ``first``'s order; ``PairingError`` when the test
    clips differ (``what`` names the task and the files for the message)."""
    if len(first) != len(other):
        raise PairingError(f"{what}: {len(first)} folds against {len(other)}; the results are of different tasks")
    result = []
    for k, (a, b) in enumerate(zip(first, other)):
        if a.keys == b.keys:
            result.append(b)
            continue
        only_a, only_b = sorted(set(a.keys) - set(b.keys)), sorted(set(b.keys) - set(a.keys))
        if only_a or only_b or len(set(a.keys)) != len(a.keys) or len(a.keys) != len(b.keys):
            fold = f" (fold {k + 1})" if len(first) > 1 else ""
            raise PairingError(
                f"{what}{fold}: the test clips differ ({len(a.keys)} against {len(b.keys)} clips; "
                f"{len(only_a)} only in the first, e.g. {only_a[:3]}, {len(only_b)} only in the other, "
                f"e.g. {only_b[:3]}): a paired comparison needs the same test data. Were they run on "
                "different data folders or versions of the task?"
            )
        result.append(b.reordered(a.keys))
    return result


def paired_draws(folds: Sequence[Sequence[ClipScores]], seed: int | Sequence[int], resamples: int = 1000) -> np.ndarray:
    """``[resamples, encoders]``: each encoder's score (the mean over folds) on the same resamples
    of the test clips. ``folds[e]`` are encoder ``e``'s folds, all aligned on the same clips."""
    rng = np.random.default_rng(seed)
    scorers = [[fold.rescorer() for fold in encoder] for encoder in folds]
    draws = np.zeros((resamples, len(folds)))
    for k, fold in enumerate(folds[0]):
        units = len(fold.keys)
        uniform = np.full(units, 1.0 / units)
        for start in range(0, resamples, 100):  # bounded memory for large test sets
            counts = rng.multinomial(units, uniform, size=min(100, resamples - start)).astype(np.float64)
            for e, encoder in enumerate(scorers):
                draws[start : start + len(counts), e] += [encoder[k](c) for c in counts]
    return draws / len(folds[0])


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` percentile interval of ``values``, NaNs (resamples without a score) left out."""
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)
