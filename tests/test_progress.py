"""Following a long run: the plan before work, each stage's progress with its total and time left
(a bar on a terminal, plain lines in a log and from xdist workers), each on a line of its own
between pytest's dots, and a sign of life while a slow encoder check runs."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from pytest_xares.engine.plan import Size, TimeLeft, plan_line
from pytest_xares.engine.progress import Progress
from pytest_xares.plugin import capture
from pytest_xares.task import ClipTask, folds
from pytest_xares.testing import BANDS_ENCODER, encoder_file

#: The bands encoder, 0.2 s per call: with 2 clips a call, each split of the tiny task takes 2.4 s.
SLOW = BANDS_ENCODER.replace(
    "    def forward(self, audio):\n", "    def forward(self, audio):\n        time.sleep(0.2)\n"
)
#: Progress lines of a log every 0.2 s, in every process of the run (xdist workers load it too).
FAST_LINES = "import pytest_xares.plugin.capture as capture\n\ncapture.LOG_INTERVAL = 0.2\n"


def slow_encoder(folder: Path) -> Path:
    return encoder_file(folder, "import time\n" + SLOW)


def _own_lines(lines: list[str], marker: str) -> list[str]:
    """The lines that mention ``marker``, each checked to start with it (never after pytest's dots)."""
    found = [line for line in lines if marker in line]
    assert all(re.match(r"^(\[gw\d\] )?xares: ", line) for line in found), found
    return found


def test_a_log_gets_plain_lines_on_their_own_and_the_second_run_knows_totals_and_time_left(
    pytester: pytest.Pytester, tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "LOG_INTERVAL", 0.2)
    args = [f"--xares-encoder={slow_encoder(pytester.path)}", f"--xares-tasks-dir={tiny_task}", "--xares-batch-size=2"]
    first = pytester.runpytest(*args, "-k", "tiny and mlp")  # no -s: progress shows past pytest's capture
    first.assert_outcomes(passed=1)
    assert _own_lines(first.stdout.lines, "xares: plan") == [
        "xares: plan: 1 task (1 item); the size of each task is known once it is first encoded"
    ]
    encoding = _own_lines(first.stdout.lines, "xares: encoding tiny tiny_train*.tar")
    assert encoding and all(re.search(r": \d+ clips, \d+ s of audio \(\d+x real time", line) for line in encoding)
    assert any(re.match(r"xares \.( |$)", line) for line in first.stdout.lines), first.stdout.lines  # the dot, apart

    for stale in ("embeddings", "results"):  # a new encoder would find the same: sizes kept, nothing cached
        shutil.rmtree(tmp_path / "xares-cache" / stale)
    second = pytester.runpytest(*args, "-k", "tiny and mlp")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["xares: plan: 1 task (1 item); 72 clips, 36 s of audio to encode where not cached"])
    encoding = _own_lines(second.stdout.lines, "xares: encoding tiny tiny_train*.tar")
    assert any(re.search(r": \d+ of 24 clips, .*, [\d.]+ s left$", line) for line in encoding), encoding


def test_under_q_the_dots_start_a_line_of_their_own_after_the_plan(pytester: pytest.Pytester, tiny_task: Path) -> None:
    spec = encoder_file(pytester.path, BANDS_ENCODER)
    result = pytester.runpytest(f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "-k", "tiny and mlp", "-q")
    result.assert_outcomes(passed=1)
    plan = result.stdout.lines.index(
        "xares: plan: 1 task (1 item); the size of each task is known once it is first encoded"
    )
    assert re.fullmatch(r"\. +\[100%\]", result.stdout.lines[plan + 1]), result.stdout.lines


def test_xdist_workers_progress_arrives_through_the_controller_on_lines_of_its_own(
    pytester: pytest.Pytester, tiny_task: Path
) -> None:
    pytester.makeconftest(FAST_LINES)
    spec = slow_encoder(pytester.path)
    result = pytester.runpytest_subprocess(
        f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}", "--xares-batch-size=2", "-n", "2", "-k", "tiny"
    )
    result.assert_outcomes(passed=2)
    encoding = _own_lines(result.stdout.lines, "xares: encoding tiny")
    assert encoding and all(line.startswith(("[gw0] ", "[gw1] ")) for line in encoding), encoding
    assert not result.stderr.lines or not any("xares:" in line for line in result.stderr.lines)
    result.stdout.fnmatch_lines(
        ["xares: plan: 1 task (2 items); the size of each task is known once it is first encoded"]
    )


def test_a_slow_encoder_check_says_it_is_still_running(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "LOG_INTERVAL", 0.2)
    slow_on_long = BANDS_ENCODER.replace(
        "    def forward(self, audio):\n",
        "    def forward(self, audio):\n        if audio.shape[-1] > 60 * 16000:\n            time.sleep(1.0)\n",
    )
    spec = encoder_file(pytester.path, "import time\n" + slow_on_long)
    result = pytester.runpytest(f"--xares-encoder={spec}", "-k", "long_input")
    result.assert_outcomes(passed=1)
    assert _own_lines(result.stdout.lines, "still running"), result.stdout.lines
    result.stdout.fnmatch_lines(["xares: encoder check 'long_input': still running after *"])


def _screen(data: str) -> list[str]:
    """What a terminal shows after ``data``: carriage returns, newlines, erasing a line and moving
    the cursor up and right (what a bar and the plugin write), colours dropped."""
    data = re.sub(r"\x1b\[[0-9;]*m", "", data)
    rows: list[list[str]] = [[]]
    row = column = 0
    for token in re.findall(r"\x1b\[\d*[ACK]|.", data, flags=re.S):
        if token.startswith("\x1b"):
            count = int(token[2:-1] or 1)
            if token.endswith("A"):
                row = max(0, row - count)
            elif token.endswith("C"):
                column += count
            else:
                del rows[row][column:]
        elif token == "\r":
            column = 0
        elif token == "\n":
            row, column = row + 1, 0
            rows.extend([] for _ in range(row + 1 - len(rows)))
        else:
            rows[row].extend(" " * (column - len(rows[row])))
            rows[row][column : column + 1] = [token]
            column += 1
    return ["".join(r).rstrip() for r in rows]


def test_a_terminal_shows_bars_without_s_and_they_leave_the_dots_as_they_were(tiny_task: Path, tmp_path: Path) -> None:
    spec = slow_encoder(tmp_path)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    command = [sys.executable, "-m", "pytest", f"--xares-encoder={spec}", f"--xares-tasks-dir={tiny_task}"]
    command += ["--xares-batch-size=2", "-k", "tiny", "-p", "no:cacheprovider", f"--rootdir={tmp_path}"]
    environment = {**os.environ, "TERM": "xterm"}  # a terminal that moves the cursor, whatever runs the tests
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=120) == 0
    os.close(leader)
    raw = b"".join(chunks).decode("utf-8", "replace")
    assert re.search(r"xares: encoding tiny tiny_train\*\.tar: \d+ clips \[", raw), raw  # a bar, drawn live
    assert re.search(r"xares: training tiny mlp: +\d+%\|.*\| \d+/100 \[", raw), raw  # with its total
    shown = _screen(raw)
    plan = shown.index("xares: plan: 1 task (2 items); the size of each task is known once it is first encoded")
    assert re.fullmatch(r"xares \.\. +\[100%\]", shown[plan + 1]), shown  # the bars came and went below it
    assert not [line for line in shown if "clips/s" in line or "%|" in line], shown


def test_a_k_fold_task_trains_against_the_epochs_of_all_its_folds() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=False, interval=0.0)
    task = ClipTask(name="kf", formal_name="KF", splits=folds(range(3)), classes=2, weight=1, epochs=2)
    progress.start_task(task, {})
    for _fold in range(3):
        for epoch in (1, 2):
            progress.training("kf mlp", epoch, 2, 0.5)
    assert [line.split(", validation")[0] for line in stream.getvalue().splitlines()] == [
        f"xares: training kf mlp: epoch {e} of 2 (fold {f} of 3)" for f in (1, 2, 3) for e in (1, 2)
    ]


def test_the_plan_counts_what_is_known_and_says_what_is_not() -> None:
    a = ClipTask(name="a", formal_name="A", splits=folds(range(2)), classes=2, weight=1)
    b = ClipTask(name="b", formal_name="B", splits=folds(range(2)), classes=2, weight=1)
    known = {"a": {p: Size(1500, 5400.0) for p in a.splits.patterns()}, "b": {b.splits.patterns()[0]: Size(1, 1.0)}}
    assert plan_line([a, b], 3, 10, known) == (
        "xares: plan: 2 tasks (3 items) and 10 encoder checks; 3 000 clips, 3.0 h of audio in 1 of them to encode "
        "where not cached; the size of 1 more is known once it is first encoded"
    )


def test_the_time_left_follows_the_pace_of_the_encoding_and_drops_finished_tasks() -> None:
    estimate = TimeLeft({"a": 3600.0, "b": 3600.0}, unknown={"c"}, first_after=10.0, every=300.0)
    estimate.encoded("a", "a train", 100.0, now=0.0)
    assert estimate.due(5.0) is None  # not timed long enough yet
    estimate.encoded("a", "a train", 600.0, now=60.0)
    line = estimate.due(60.0)  # 600 s of audio in 60 s: 10x; 6600 s to go
    assert line == (
        "xares: about 11 min 00 s left, and 1 task of unknown size: 10 min of audio encoded so far, 1.8 h to go at "
        "10x real time"
    )
    assert estimate.due(120.0) is None  # one line every `every` seconds
    estimate.done("a")
    estimate.done("c")
    assert estimate.due(400.0) == (
        "xares: about 40 min 00 s left: 10 min of audio encoded so far, 1.0 h to go at 2x real time"
    )


def test_time_left_is_not_claimed_before_the_first_batches_are_timed() -> None:
    estimate = TimeLeft({"a": 60.0})
    assert estimate.due(time.monotonic()) is None
