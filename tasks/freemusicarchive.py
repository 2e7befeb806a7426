"""Free Music Archive Small."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="freemusicarchive",
    formal_name="Free Music Archive Small",
    description="Music genre of Free Music Archive tracks (fma_small): 8 genres, 10 s crops.",
    reference="https://github.com/mdeff/fma",
    domain="music",
    record=14725056,
    splits=splits("fma_small_train", "fma_small_valid", "fma_small_test"),
    label="genre",
    classes=vocabulary("freemusicarchive"),
    weight=800,
    epochs=3,
    crop_seconds=10,
)
