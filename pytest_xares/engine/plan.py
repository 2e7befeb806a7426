"""What a run has to encode, before it starts, and the time left once the first batches are timed.

A split's size (its clips, crops counted, and seconds of audio) is known once it has been encoded:
each encoding's count is kept in the cache (``sizes/<task>/<key>.json``, keyed by the task's
definition and its data folder, not by the encoder), so the next run of any encoder on the same
data knows its plan and its bars their totals. Nothing here reads audio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_xares.cache.store import Cache
from pytest_xares.data.transfer import duration
from pytest_xares.errors import XaresError
from pytest_xares.hashing import digest
from pytest_xares.task import Task


@dataclass(frozen=True)
class Size:
    clips: int
    audio_seconds: float


class Sizes:
    """Each split's size as its last encoding counted it."""

    def __init__(self, cache_dir: Path, data_dir: Path) -> None:
        self.cache = Cache(cache_dir)
        self.data_dir = data_dir

    def _path(self, task: Task, pattern: str) -> Path:
        key = digest("split size", task.fingerprint(), str(self.data_dir / task.data_folder), pattern)
        return self.cache.path("sizes", task.name, key, ".json")

    def known(self, task: Task) -> dict[str, Size]:
        """The sizes of ``task``'s splits that are known, by shard glob."""
        found = {}
        for pattern in task.splits.patterns():
            size = self.cache.read_entry(self._path(task, pattern), lambda entry: Size(**entry))
            if size is not None:
                found[pattern] = size
        return found

    def record(self, task: Task, encoded: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep the sizes of the splits encoded now (a result's ``details["encoded"]``). A size
        that cannot be kept (a full disk) only costs the next run its totals."""
        for pattern, stats in encoded.items():
            try:
                self.cache.write_entry(
                    self._path(task, pattern), {"clips": int(stats["clips"]), "audio_seconds": float(stats["audio_s"])}
                )
            except (OSError, XaresError, KeyError, TypeError, ValueError):
                return


def hours(seconds: float) -> str:
    """``5400`` → ``"1.5 h"``, ``300`` → ``"5 min"``: audio amounts, as a person reads them."""
    return (
        f"{seconds / 3600:.1f} h"
        if seconds >= 3600
        else f"{seconds / 60:.0f} min"
        if seconds >= 60
        else f"{seconds:.0f} s"
    )


def plan_line(
    tasks: Iterable[Task], items: int, checks: int, sizes: Mapping[str, Mapping[str, Size]], encoders: int = 1
) -> str:
    """The plan of a run: ``xares: plan: 7 tasks (10 items) and 10 encoder checks; 2 010 clips, 1.4 h of
    audio to encode where not cached``, saying which tasks' sizes are not known yet (and, for a
    run of several ``encoders``, that each encodes them)."""
    tasks = list(tasks)
    parts = [f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} ({items} item{'s' if items != 1 else ''})"]
    if checks:
        parts.append(f"{checks} encoder check{'s' if checks != 1 else ''}")
    text = "xares: plan: " + " and ".join(parts)
    complete = [t for t in tasks if len(sizes.get(t.name, {})) == len(t.splits.patterns())]
    if complete:
        clips = sum(s.clips for t in complete for s in sizes[t.name].values())
        audio = sum(s.audio_seconds for t in complete for s in sizes[t.name].values())
        some = "" if len(complete) == len(tasks) else f" in {len(complete)} of them"
        each = f" by each of {encoders} encoders" if encoders > 1 else ""
        text += (
            f"; {clips:,} clips".replace(",", " ") + f", {hours(audio)} of audio{some} to encode{each} where not cached"
        )
    unknown = len(tasks) - len(complete)
    if unknown:
        text += f"; the size of {'each task' if not complete else f'{unknown} more'} is known once it is first encoded"
    return text


class TimeLeft:
    """The time left of a run, from the audio its known tasks hold and the pace of the encoding so far
    (all processes together; training between the encodings slows the pace, and so counts too)."""

    def __init__(
        self, planned: Mapping[str, float], unknown: Iterable[str] = (), first_after: float = 10.0, every: float = 300.0
    ) -> None:
        self.planned = dict(planned)  # task → seconds of audio, for the tasks whose size is known
        self.unknown = set(unknown)  # the run's other tasks
        self.first_after = first_after
        self.every = every
        self._encoded: dict[str, dict[str, float]] = {}  # task → split → seconds of audio so far
        self._done: set[str] = set()
        self._started: float | None = None
        self._said: float | None = None

    def encoded(self, task: str | None, what: str, audio_seconds: float, now: float) -> None:
        if self._started is None:
            self._started = now
        self._encoded.setdefault(task or what, {})[what] = audio_seconds

    def done(self, task: str) -> None:
        self._done.add(task)

    def due(self, now: float) -> str | None:
        """The line to show now, if one is due: the first once the encoding has been timed for
        ``first_after`` seconds, then one every ``every`` seconds."""
        if self._started is None or now - self._started < self.first_after:
            return None
        if self._said is not None and now - self._said < self.every:
            return None
        encoded = sum(sum(splits.values()) for splits in self._encoded.values())
        left = sum(
            max(0.0, audio - sum(self._encoded.get(task, {}).values()))
            for task, audio in self.planned.items()
            if task not in self._done
        )
        if not left or not encoded:
            return None
        self._said = now
        pace = encoded / (now - self._started)
        unknown = len(self.unknown - self._done)
        extra = f", and {unknown} task{'s' if unknown != 1 else ''} of unknown size" if unknown else ""
        return (
            f"xares: about {duration(left / pace)} left{extra}: {hours(encoded)} of audio encoded so far, "
            f"{hours(left)} to go at {pace:.0f}x real time"
        )
