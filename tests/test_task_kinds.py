"""Targets of every task kind from their json, and the frame store the frame-level heads read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from pytest_xares.embeddings.store import FrameWriter, frame_set
from pytest_xares.task import (
    AsrTask,
    FrameTask,
    LabelError,
    MultiLabelTask,
    RegressionTask,
    RetrievalTask,
    folds,
    splits,
)
from pytest_xares.tasks.demo.captions import caption_tokenizer

SPLITS = splits("train", "valid", "test")


def events_task(**fields: object) -> FrameTask:
    return FrameTask(name="e", formal_name="E", splits=SPLITS, classes=("dog", "cat", "bell"), weight=1, **fields)


def test_frame_targets_mark_the_frames_whose_start_an_event_holds_as_x_ares_does() -> None:
    task = events_task()
    events = [{"onset": 0.05, "offset": 0.25, "label": "dog"}, {"onset": 0.2, "offset": 0.3, "label": "cat,bell"}]
    expected = np.zeros((5, 3), np.float32)
    expected[1:3, 0] = 1  # 0.05–0.25 holds the starts 0.1 and 0.2: X-ARES's ceil(0.5) = 1 to ceil(2.5) = 3
    expected[2, 1:] = 1  # 0.2–0.3 holds 0.2 only: frame 3 starts where it ends
    assert np.array_equal(task.frame_targets(events, 5, 0.1), expected)


def test_frame_targets_edge_cases() -> None:
    task = events_task()
    assert not task.frame_targets([], 4, 0.1).any()  # an empty event list
    past_the_end = task.frame_targets([{"onset": 0.25, "offset": 9.0, "label": "bell"}], 4, 0.1)
    assert past_the_end[:, 2].tolist() == [0, 0, 0, 1]  # from the first start at or after 0.25, cut at the last frame
    beyond = task.frame_targets([{"onset": 5.0, "offset": 6.0, "label": "bell"}], 4, 0.1)
    assert not beyond.any()
    for onset, offset in ((0.15, 0.15), (0.12, 0.18)):  # no frame starts inside: nothing marked, as in X-ARES
        assert not task.frame_targets([{"onset": onset, "offset": offset, "label": "dog"}], 4, 0.1).any()
    assert task.frame_targets([{"onset": 0.0, "offset": 1.0, "label": "dog"}], 0, 0.1).shape == (0, 3)


def test_a_rounding_error_in_a_quotient_does_not_move_an_event_by_a_frame() -> None:
    # 0.28 / 0.04 is 7.000000000000001 in floats: math.ceil would start the event at frame 8.
    targets = events_task().frame_targets([{"onset": 0.28, "offset": 0.36, "label": "cat"}], 12, 0.04)
    assert np.flatnonzero(targets[:, 1]).tolist() == [7, 8]


def test_midi_notes_map_to_classes() -> None:
    task = FrameTask(
        name="m",
        formal_name="M",
        splits=SPLITS,
        classes=tuple(range(21, 108)),
        weight=1,
        onset="start",
        offset="end",
        label="note",
        separator=None,
    )
    targets = task.frame_targets(
        [{"start": 0.0, "end": 0.1, "note": 21}, {"start": 0.1, "end": 0.2, "note": 107}], 2, 0.1
    )
    assert targets[0, 0] == 1 and targets[1, 86] == 1 and targets.sum() == 2
    with pytest.raises(LabelError, match="108"):
        task.target([{"start": 0.0, "end": 0.1, "note": 108}])


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"onset": 0.0}, "not a list of events"),
        ([{"onset": 0.0, "label": "dog"}], "lacks one of"),
        ([{"onset": "soon", "offset": 1.0, "label": "dog"}], "non-numeric"),
        ([{"onset": 2.0, "offset": 1.0, "label": "dog"}], "ends before it starts"),
        ([{"onset": 0.0, "offset": 1.0, "label": "dog,horse"}], "horse"),
    ],
)
def test_bad_events_name_the_problem(sample: object, message: str) -> None:
    with pytest.raises(LabelError, match=message):
        events_task().target(sample)


def test_frame_tasks_need_three_splits() -> None:
    with pytest.raises(ValueError, match="needs train, valid and test"):
        FrameTask(name="e", formal_name="E", splits=folds(range(3)), classes=("a",), weight=1)


def test_multi_label_targets_are_many_hot() -> None:
    task = MultiLabelTask(name="t", formal_name="T", splits=SPLITS, label="tags", classes=("a", "b", "c"), weight=1)
    targets = task.targets([{"tags": "a;c"}, {"tags": "b"}, {"tags": ""}])
    assert targets.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]] and targets.dtype == np.float32
    with pytest.raises(LabelError, match="'d'"):
        task.target({"tags": "a;d"})
    with pytest.raises(LabelError, match="separated"):
        task.target({"tags": ["a"]})


def test_regression_targets_are_finite_numbers() -> None:
    task = RegressionTask(name="r", formal_name="R", splits=SPLITS, label="accuracy", weight=0, averaged=False)
    assert task.targets([{"accuracy": 7}, {"accuracy": 2.5}]).tolist() == [7.0, 2.5]
    for bad in ("high", None, float("nan"), True):
        with pytest.raises(LabelError):
            task.target({"accuracy": bad})
    assert task.methods == ("mlp",)


def test_captions_are_every_value_or_the_named_fields() -> None:
    task = RetrievalTask(name="c", formal_name="C", splits=SPLITS, weight=1, tokenizer=caption_tokenizer)
    assert task.target({"caption_1": "a dog", "caption_2": "a cat"}) == ["a dog", "a cat"]
    named = RetrievalTask(
        name="c", formal_name="C", splits=SPLITS, weight=1, captions=("caption_2",), tokenizer=caption_tokenizer
    )
    assert named.target({"caption_1": "a dog", "caption_2": "a cat"}) == ["a cat"]
    with pytest.raises(LabelError, match="caption_2"):
        named.target({"caption_1": "a dog"})
    with pytest.raises(LabelError, match="non-empty strings"):
        task.target({"caption_1": "a dog", "duration": 12.5})


def test_transcripts_are_strings() -> None:
    task = AsrTask(name="a", formal_name="A", splits=SPLITS, label="trans", weight=1)
    assert task.target({"trans": "HELLO WORLD"}) == "HELLO WORLD"
    with pytest.raises(LabelError, match="no field 'trans'"):
        task.target({"text": "hello"})


def test_frame_writer_puts_samples_back_in_order_whatever_order_they_came_in(tmp_path: Path) -> None:
    rows = tmp_path / "frames.f16"
    arrays = {i: np.full((i + 1, 4), i, dtype=np.float32) for i in range(4)}
    with rows.open("wb") as handle:
        writer = FrameWriter(handle, hop_seconds=0.04)
        for i in (2, 0, 3, 1):  # batches of equal length finish out of order
            writer.write(i, arrays[i])
    index = writer.index(order=[0, 1, 2, 3])
    frames = frame_set(rows, index, ["k0", "k1", "k2", "k3"], [{}, {}, {}, {}])
    assert isinstance(frames.frames, np.memmap) and frames.frames.dtype == np.float16
    assert rows.stat().st_size == sum(a.size for a in arrays.values()) * 2
    for i, expected in arrays.items():
        assert np.array_equal(frames.sample(i), expected.astype(np.float16))
    assert frames.hop_seconds == 0.04 and len(frames) == 4


def test_a_frame_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    rows = tmp_path / "frames.f16"
    with rows.open("wb") as handle:
        writer = FrameWriter(handle, hop_seconds=0.01)
        writer.write(0, np.ones((3, 2), np.float32))
    with rows.open("ab") as handle:
        handle.write(b"\0")  # a torn or foreign file
    with pytest.raises(ValueError, match="holds 13 bytes"):
        frame_set(rows, writer.index([0]), ["k"], [{}])


def test_training_reports_every_epoch_to_the_progress_display() -> None:
    import torch

    from pytest_xares.engine.progress import Progress
    from pytest_xares.heads.linear import linear_head
    from pytest_xares.heads.train import TensorSamples, TrainConfig, fit, seeded

    stream = io.StringIO()
    progress = Progress(stream, live=False, interval=0.0)
    config = TrainConfig(
        3, 4, 1e-2, 0, report=lambda epoch, valid: progress.training("demo_events mlp", epoch, 3, valid)
    )
    data = TensorSamples(torch.randn(8, 4), torch.arange(8) % 2)
    fit(seeded(0, lambda: linear_head(4, 2)), torch.nn.functional.cross_entropy, data, lambda m: 0.25, config)
    assert stream.getvalue().splitlines() == [
        f"xares: training demo_events mlp: epoch {e} of 3, validation 0.2500" for e in (1, 2, 3)
    ]
