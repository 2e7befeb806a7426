"""The offline quickstart: the demo suite end to end, warm, and under xdist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_xares.testing import MEL

DEMO = [f"--xares-encoder={MEL}", "--xares-suite=demo", "-p", "no:cacheprovider"]


def scores(path: Path) -> dict[tuple[str, str], float]:
    return {(r["task"], r["method"]): r["score"] for r in json.loads(path.read_text())["results"]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """One cold run of the demo suite in a subprocess; later tests reuse its data and cache."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo")
    env = {**__import__("os").environ, "XARES_DATA_DIR": str(root / "data"), "XARES_CACHE_DIR": str(root / "cache")}
    out = root / "cold.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *DEMO, f"--xares-json={out}", "-q"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    (root / "cold.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-3000:]
    return root, out, root / "cold.txt"


def test_the_demo_suite_learns_but_is_not_trivial(first_run: tuple[Path, Path, Path]) -> None:
    root, out, log = first_run
    from pytest_xares.task.registry import load_tasks

    tasks = {t.name: t for t in load_tasks("demo")}
    got = scores(out)
    assert {task for task, _ in got} == set(tasks) and len(tasks) >= 7
    for (task, method), score in got.items():
        least = required_score(tasks[task], split_samples(tasks[task], root / "data"))
        assert least < score < 1.0, (task, method, score, least)
    text = log.read_text()
    assert "X-ARES scores" in text and "weighted average" in text and "MLP, public" in text
    for name in tasks:
        assert f"| {name}" in text


def split_samples(task: Any, data: Path) -> list[Any]:
    from pytest_xares.data.shards import find_shards, iter_samples
    from pytest_xares.task import KFold

    patterns = task.splits.folds if isinstance(task.splits, KFold) else (task.splits.test,)  # every fold is tested once
    return [s for pattern in patterns for s in iter_samples(find_shards(data / task.data_folder, pattern))]


def required_score(task: Any, samples: list[Any]) -> float:
    """What a score must beat to show learning: well above what guessing or a constant gets on the test split."""
    import io

    import numpy as np
    import soundfile

    from pytest_xares.heads import metrics

    metadata = [s.metadata for s in samples]
    if task.kind == "clip":
        return 2 / task.num_classes  # twice chance
    if task.kind == "multilabel":  # an uninformative ranking's average precision is the positive rate
        return float(task.targets(metadata).mean(axis=0).mean()) + 0.25
    if task.kind == "regression":
        return 0.5  # Pearson correlation
    if task.kind == "retrieval":
        return 5 / len(samples)  # five times chance
    assert task.kind == "frame"  # F1 of calling every class active everywhere (all off scores 0)
    hop = 0.01
    targets = [
        task.frame_targets(s.metadata, int(soundfile.info(io.BytesIO(s.audio)).duration / hop) + 1, hop)
        for s in samples
    ]
    everywhere = [np.ones_like(t) for t in targets]
    return (
        metrics.segment_f1_outcome(
            everywhere, targets, metrics.segment_frames(task.segment_seconds, hop), task.average
        ).score
        + 0.15
    )


def test_every_demo_sample_has_a_target_of_its_task(first_run: tuple[Path, Path, Path]) -> None:
    from pytest_xares.data.shards import find_shards, iter_samples
    from pytest_xares.task.registry import load_tasks

    root = first_run[0] / "data"
    for task in load_tasks("demo"):
        for pattern in task.splits.patterns():
            samples = list(iter_samples(find_shards(root / task.data_folder, pattern)))
            assert len(samples) >= 18, (task.name, pattern)
            for sample in samples:
                task.target(sample.metadata)  # no LabelError
        if task.kind == "frame":  # some clips have no event, some events overlap
            assert any(s.metadata == [] for s in samples)
            assert any(a["offset"] > b["onset"] for s in samples for a, b in zip(s.metadata, s.metadata[1:]))
        if task.kind == "multilabel":
            assert {len(task.target(s.metadata).nonzero()[0]) for s in samples} >= {1, 2, 3}


def test_the_new_demo_kinds_vary_their_audio_formats(first_run: tuple[Path, Path, Path]) -> None:
    import io

    import soundfile

    from pytest_xares.data.shards import find_shards, iter_samples
    from pytest_xares.task.registry import load_tasks

    formats = set()
    for task in load_tasks("demo"):
        if task.kind != "clip":
            sample = next(iter_samples(find_shards(first_run[0] / "data" / task.data_folder, task.splits.test)))
            info = soundfile.info(io.BytesIO(sample.audio))
            formats.add((info.format, info.samplerate, info.channels))
    assert {f[0] for f in formats} == {"FLAC", "OGG", "WAV", "MP3"} and len({f[1] for f in formats}) == 4
    assert any(channels == 2 for _, _, channels in formats)


def test_the_demo_layouts_cover_k_fold_splits_and_crops() -> None:
    from pytest_xares.task import KFold, TrainValidTest
    from pytest_xares.task.registry import load_tasks

    tasks = load_tasks("demo")
    assert any(isinstance(t.splits, KFold) for t in tasks)
    assert any(isinstance(t.splits, TrainValidTest) for t in tasks)
    assert any(isinstance(t.splits, TrainValidTest) and t.splits.valid == t.splits.test for t in tasks)
    assert any(t.crop_seconds for t in tasks)
    assert {t.kind for t in tasks} == {"clip", "multilabel", "regression", "frame", "retrieval"}  # every kind but ASR


def test_the_demo_caption_tokenizer_knows_every_caption_word() -> None:
    from pytest_xares.tasks.demo.captions import CAPTION_ATTRIBUTES, CAPTION_TEMPLATES, caption_tokenizer

    tokenizer = caption_tokenizer()
    words = [w for values in CAPTION_ATTRIBUTES.values() for names in values.values() for w in names]
    texts = [t.format(pitch="deep", timbre="harsh", rhythm="steady") for t in CAPTION_TEMPLATES.values()] + words
    ids = tokenizer.encode(texts)
    assert all(ids) and tokenizer.unknown_id not in {i for row in ids for i in row}
    assert len(set(tokenizer.encode(words)[k][0] for k in range(len(words)))) == len(words)


def test_a_warm_rerun_is_served_from_the_cache(
    first_run: tuple[Path, Path, Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cold, _ = first_run
    monkeypatch.setenv("XARES_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(root / "cache"))
    warm = pytester.path / "warm.json"
    result = pytester.runpytest(*DEMO, f"--xares-json={warm}")
    result.assert_outcomes(passed=len(scores(cold)) + 10)
    assert scores(warm) == scores(cold)
    assert all(r["cached"] for r in json.loads(warm.read_text())["results"])
    result.stdout.fnmatch_lines(["| demo_pitch *| cached *|"])


def test_xdist_gives_the_same_scores_from_a_fresh_cache(
    first_run: tuple[Path, Path, Path], pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cold, _ = first_run
    monkeypatch.setenv("XARES_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("XARES_CACHE_DIR", str(pytester.path / "fresh-cache"))
    parallel = pytester.path / "parallel.json"
    result = pytester.runpytest_subprocess(*DEMO, "-n", "2", f"--xares-json={parallel}")
    result.assert_outcomes(passed=len(scores(cold)) + 10)
    result.stdout.fnmatch_lines(["*X-ARES scores*"])
    assert scores(parallel) == pytest.approx(scores(cold), abs=1e-6)
    assert not any(r["cached"] for r in json.loads(parallel.read_text())["results"])


def test_demo_synthesis_is_deterministic(tmp_path: Path) -> None:
    from pytest_xares.data.prepare import prepare_data
    from pytest_xares.data.records import record_checksums
    from pytest_xares.task.registry import load_tasks

    for task in load_tasks("demo"):
        prepare_data(task, tmp_path / "a")
        prepare_data(task, tmp_path / "b")
        first, second = record_checksums(tmp_path / "a" / task.name), record_checksums(tmp_path / "b" / task.name)
        assert first and first == second


def test_ogg_shards_get_a_fixed_stream_serial() -> None:
    """libsndfile draws an Ogg stream's serial number from the clock; the demo fixes it, with valid checksums."""
    import io

    import numpy as np
    import soundfile

    from pytest_xares.tasks.demo._synthesis import _encode
    from pytest_xares.tasks.demo.tags import TAGS_FORMAT

    audio = 0.1 * np.sin(np.arange(4800) / 5.0)
    first, second = _encode(audio, TAGS_FORMAT), _encode(audio, TAGS_FORMAT)
    assert first == second
    decoded, rate = soundfile.read(io.BytesIO(first))
    assert rate == TAGS_FORMAT.rate and len(decoded) == len(audio)  # libogg drops pages with a bad checksum
    broken = bytearray(first)
    broken[-1] ^= 0xFF
    assert len(soundfile.read(io.BytesIO(bytes(broken)))[0]) < len(audio)


def test_a_demo_synthesiser_version_covers_the_helpers_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    from pytest_xares.data.prepare import synthesis_version
    from pytest_xares.task.registry import load_tasks
    from pytest_xares.tasks.demo import _synthesis as demo

    task = next(
        t for t in load_tasks("demo") if t.name == "demo_events"
    )  # written with the shared helpers of tasks/demo/_synthesis.py
    before = synthesis_version(task)
    getsource = inspect.getsource
    monkeypatch.setattr(inspect, "getsource", lambda obj: getsource(obj) + ("# changed" if obj is demo else ""))
    assert synthesis_version(task) != before


def test_demo_data_of_another_synthesiser_version_is_replaced(tmp_path: Path) -> None:
    from dataclasses import replace

    from pytest_xares.data.prepare import prepare_data
    from pytest_xares.task.registry import load_tasks

    task = next(t for t in load_tasks("demo") if t.name == "demo_texture")
    first = prepare_data(task, tmp_path)
    shard = first[task.splits.train][0]
    stamp = shard.stat().st_mtime_ns
    assert prepare_data(task, tmp_path) == first and shard.stat().st_mtime_ns == stamp  # reused as it is
    changed = replace(task, epochs=task.epochs + 1)  # another definition: another version of its data
    prepare_data(changed, tmp_path)
    assert shard.exists() and shard.stat().st_mtime_ns != stamp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo_texture.") and not p.name.endswith(".lock")]
