"""LiveEnv sounds (private: no public data; the shards must be placed by hand)."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="liveenv",
    formal_name="LiveEnv sounds",
    description="Which of 28 everyday sound scenes a live recording is (private data of X-ARES).",
    reference="https://github.com/jimbozhang/xares",
    domain="sound",
    private=True,
    averaged=False,  # disabled in X-ARES 0.1.3: never run, so in none of its averages
    splits=splits("liveenv_train", "liveenv_test", "liveenv_test"),
    label="soundevent",
    # One label of the vocabulary carries a trailing space ("BabySound "), as in the data.
    classes=vocabulary("liveenv"),
    weight=5000,
    epochs=50,
    knn=False,
)
