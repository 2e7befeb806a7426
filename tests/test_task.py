from __future__ import annotations

import pytest

from pytest_xares.task import ClipTask, KFold, LabelError, TrainValidTest, folds, splits, vocabulary
from pytest_xares.task.registry import load_tasks


def task(**overrides) -> ClipTask:
    fields = dict(name="t", formal_name="T", splits=splits("tr", "va", "te"), label="y", classes=("a", "b"), weight=1)
    return ClipTask(**{**fields, **overrides})


def test_split_names_become_globs_and_shared_splits_are_read_once() -> None:
    s = splits("fsd18_train", "fsd18_test", "fsd18_test")
    assert s == TrainValidTest("fsd18_train*.tar", "fsd18_test*.tar", "fsd18_test*.tar")
    assert s.patterns() == ("fsd18_train*.tar", "fsd18_test*.tar")


def test_fold_patterns() -> None:
    assert folds(range(1, 3)) == KFold(("wds-audio-fold-1-*.tar", "wds-audio-fold-2-*.tar"))
    assert folds(range(2), "libricount_fold{k:02d}.tar").folds == ("libricount_fold00.tar", "libricount_fold01.tar")


def test_vocabulary_targets() -> None:
    t = task()
    assert [t.target({"y": "a"}), t.target({"y": "b"})] == [0, 1]
    with pytest.raises(LabelError, match="'c' is not in the vocabulary"):
        t.target({"y": "c"})
    with pytest.raises(LabelError, match="no field 'y'"):
        t.target({"label": "a"})
    with pytest.raises(LabelError, match="not an object"):
        t.target([{"y": "a"}])


def test_index_targets_reject_out_of_range_and_bools() -> None:
    t = task(classes=3)
    assert t.target({"y": 2}) == 2
    for bad in (3, -1, True, "1", 1.5, 3.0, float("nan")):
        with pytest.raises(LabelError):
            t.target({"y": bad})


def test_a_float_of_integral_value_is_that_integer_as_in_x_ares_dict_lookup() -> None:
    # MAESTRO's note and LibriCount's num_speakers may be written as 60.0 and 3.0.
    assert task(classes=5).target({"y": 3.0}) == 3
    notes = task(classes=(21, 60, 108))
    assert notes.target({"y": 60.0}) == notes.target({"y": 60}) == 1
    for bad in (60.5, True):
        with pytest.raises(LabelError):
            notes.target({"y": bad})
    assert task(classes=(0, 1)).target({"y": 1}) == 1
    with pytest.raises(LabelError):
        task(classes=(0, 1)).target({"y": True})


def test_the_tasks_x_ares_disabled_stay_out_of_the_averages() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    assert {name for name, t in tasks.items() if t.private and not t.averaged} == {
        "finger_snap",
        "key_scratching",
        "liveenv",
    }


def test_to_label_runs_before_the_lookup() -> None:
    t = task(classes=2, to_label=lambda g: 0 if g == "M" else 1)
    assert [t.target({"y": "M"}), t.target({"y": "F"})] == [0, 1]


def test_duplicate_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicates"):
        task(classes=("a", "a"))


def test_liveenv_keeps_the_trailing_space_of_its_label() -> None:
    assert "BabySound " in vocabulary("liveenv")


def test_every_task_of_the_suite_is_defined_with_its_facts() -> None:
    tasks = {t.name: t for t in load_tasks("xares")}
    public = {
        "asvspoof2015",
        "cremad",
        "esc50",
        "fluentspeechcommands",
        "freemusicarchive",
        "fsdkaggle2018",
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
        "clotho",
        "desed",
        "fsd50k",
        "librispeech",
        "maestro",
        "speechocean762",
    }
    private = {"finger_snap", "inside_outside_car", "key_scratching", "liveenv", "subway_broadcast"}
    assert set(tasks) == public | private
    kinds = {n: t.kind for n, t in tasks.items() if t.kind != "clip"}
    assert kinds == {
        "clotho": "retrieval",
        "desed": "frame",
        "fsd50k": "multilabel",
        "librispeech": "asr",
        "maestro": "frame",
        "speechocean762": "regression",
    }
    assert (
        tasks["maestro"].pos_weight == 10
        and tasks["maestro"].average == "micro"
        and tasks["maestro"].segment_seconds == 0.1
    )
    assert (
        tasks["desed"].average == "macro"
        and tasks["desed"].segment_seconds == 1.0
        and tasks["desed"].pos_weight is None
    )
    assert tasks["librispeech"].weight == 10000 and tasks["librispeech"].data_folder == "librispeech"
    assert tasks["clotho"].weight == 1045 and tasks["clotho"].epochs == 20 and tasks["clotho"].batch_size == 128
    assert not tasks["speechocean762"].averaged and tasks["speechocean762"].epochs == 25
    assert tasks["fsd50k"].num_classes == 200 and tasks["fsd50k"].metric == "mAP"
    assert {n for n, t in tasks.items() if t.private} == private
    assert all(t.record for n, t in tasks.items() if n in public)
    assert tasks["esc50"].weight == 400 and tasks["esc50"].num_classes == 50
    assert len(tasks["gtzan_genre"].splits.patterns()) == 10
    assert tasks["voxceleb1"].num_classes == 1251 and tasks["voxceleb1"].crop_seconds == 6
    assert not tasks["fsdkaggle2018"].knn and tasks["fsdkaggle2018"].methods == ("mlp",)
    assert tasks["vocalimitations"].splits.patterns()[0] == "vocal_imitations_fold00_0000000.tar"
    assert tasks["librispeechmalefemale"].target({"gender": "F"}) == 1
