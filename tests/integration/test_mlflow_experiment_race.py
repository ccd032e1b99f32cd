"""Processing hosts start together and each opens the inference experiment: the one that loses
the race to create it must use the winner's experiment, not fail (found by test_aws_e2e.py)."""

from __future__ import annotations

from mlflow import MlflowClient

from mlplatform.registry.mlflow.connection import Connection
from mlplatform.registry.mlflow.tracking import Tracking


class StaleReads(MlflowClient):
    """A real client whose first lookup misses an experiment another host just created."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.misses = 1

    def get_experiment_by_name(self, name: str):
        if self.misses:
            self.misses -= 1
            return None
        return super().get_experiment_by_name(name)


def test_losing_the_race_to_create_an_experiment_uses_the_winners(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    winner = MlflowClient(uri).create_experiment("iris-model-inference")  # the other host
    connection = Connection(uri, tmp_path / "artifacts")
    connection._client = StaleReads(uri)
    assert Tracking(connection).experiment_id("iris-model-inference") == winner
