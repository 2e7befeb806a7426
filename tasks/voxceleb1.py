"""VoxCeleb1."""

from pytest_xares.task import ClipTask, splits, vocabulary

TASK = ClipTask(
    name="voxceleb1",
    formal_name="VoxCeleb1",
    description="Speaker identification among 1251 celebrities speaking in interviews.",
    reference="https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html",
    domain="speech",
    record=14811963,
    splits=splits("voxceleb1_train", "voxceleb1_valid", "voxceleb1_test"),
    label="speakerid",
    classes=vocabulary("voxceleb1"),
    weight=2000,
    crop_seconds=6,
)
