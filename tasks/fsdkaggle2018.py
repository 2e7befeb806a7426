"""FSD18-Kaggle."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="fsdkaggle2018",
    formal_name="FSD18-Kaggle",
    description="Sound event classification of Freesound clips into 41 AudioSet classes (DCASE 2018 task 2).",
    reference="https://arxiv.org/abs/1807.09902",
    domain="sound",
    record=14725117,
    splits=splits("fsd18_train", "fsd18_test", "fsd18_test"),
    label="sound",
    classes=vocabulary("fsdkaggle2018"),
    weight=1600,
    epochs=3,
    batch_size=64,
    knn=False,
)
