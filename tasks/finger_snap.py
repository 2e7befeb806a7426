"""Finger snap sound (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="finger_snap",
    formal_name="Finger snap sound",
    description="Whether a recording holds a finger snap (private data of X-ARES).",
    reference="https://github.com/jimbozhang/xares",
    domain="sound",
    private=True,
    averaged=False,  # disabled in X-ARES 0.1.3: never run, so in none of its averages
    splits=splits("finger_snap_train", "finger_snap_test", "finger_snap_test"),
    label="tag",
    classes=vocabulary("finger_snap"),
    weight=5000,
    epochs=20,
)
