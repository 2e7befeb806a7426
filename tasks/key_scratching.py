"""Key scratching car (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="key_scratching",
    formal_name="Key scratching car",
    description="Whether a recording holds a key scratching a car (private data of X-ARES).",
    reference="https://github.com/jimbozhang/xares",
    domain="sound",
    private=True,
    averaged=False,  # disabled in X-ARES 0.1.3: never run, so in none of its averages
    splits=splits("key_scratching_train", "key_scratching_test", "key_scratching_test"),
    label="tag",
    classes=vocabulary("key_scratching"),
    weight=5000,
    epochs=20,
)
