"""Subway broadcast (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="subway_broadcast",
    formal_name="Subway broadcast",
    private=True,
    splits=splits("subway_broadcast", "subway_broadcast", "subway_broadcast"),
    label="broadcasting",
    classes=2,
    to_label=int,
    weight=5000,
    epochs=20,
)
