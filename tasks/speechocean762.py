"""speechocean762: a pronunciation accuracy score (0 to 10) per utterance.

Scored by Pearson correlation, with the mean squared error beside it. X-ARES lists the task but
never ran it, so it has no published score and stays out of the weighted averages.
"""

from pytest_xares.task import RegressionTask, splits

TASK = RegressionTask(
    name="speechocean762",
    formal_name="speechocean762",
    description="Pronunciation assessment: the accuracy score (0 to 10) experts gave a non-native English utterance.",
    reference="https://arxiv.org/abs/2104.01378",
    domain="speech",
    record=14725291,
    splits=splits("speechocean762_train", "speechocean762_test", "speechocean762_test"),
    label="accuracy",
    weight=0,
    averaged=False,
    epochs=25,
)
