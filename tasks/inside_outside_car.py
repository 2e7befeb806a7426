"""Inside/outside car (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="inside_outside_car",
    formal_name="Inside/outside car",
    description="Whether a recording was made inside or outside a car (private data of X-ARES).",
    reference="https://github.com/jimbozhang/xares",
    domain="sound",
    private=True,
    splits=splits("inside_outside_car_train", "inside_outside_car_test", "inside_outside_car_test"),
    label="position",
    classes=vocabulary("inside_outside_car"),
    weight=5000,
    epochs=20,
)
