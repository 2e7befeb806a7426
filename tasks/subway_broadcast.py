"""Subway broadcast (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits

TASK = ClipTask(
    name="subway_broadcast",
    formal_name="Subway broadcast",
    description="Whether a subway recording holds a broadcast announcement (private data of X-ARES).",
    reference="https://github.com/jimbozhang/xares",
    domain="sound",
    private=True,
    splits=splits("subway_broadcast", "subway_broadcast", "subway_broadcast"),
    label="broadcasting",
    classes=2,
    to_label=int,
    weight=5000,
    epochs=20,
)
