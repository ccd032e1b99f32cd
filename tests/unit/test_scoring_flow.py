"""The scoring flow's promises, with in-memory MLflow and Kafka (tests/support/fakes.py) and
files in a temp folder: what is committed, what is published and when, what a failure leaves."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlplatform.errors import DataError, PipelineError
from mlplatform.flows.publish import run_publish
from mlplatform.flows.scoring import run_scoring
from mlplatform.flows.setup import load_settings
from mlplatform.sinks import Sink, build_sinks
from mlplatform.sinks.committed import committed_parts, read_manifest, read_published
from tests.support.fakes import FakeKafkaClients, FakeMlflow, iris_rows, trained_iris

DATE = "2026-11-20"
KAFKA = {"bootstrap_servers": "fake:9092", "topic": "predictions"}


@pytest.fixture(scope="module")
def model():
    return trained_iris()


def score(settings, mlflow, clients, sinks=None):
    return run_scoring(settings, DATE, clients=clients, mlflow=mlflow, sinks=sinks)


def folder_of(settings) -> str:
    return f"{settings.data_root}/iris/inference-output/model=iris-model/date={DATE}"


def test_a_scored_date_is_committed_recorded_and_published_once(model):
    settings = load_settings(inference={"rows": 2500, "batch_size": 1000, "kafka": KAFKA})
    mlflow, clients = FakeMlflow.serving(model), FakeKafkaClients()
    outcome = score(settings, mlflow, clients)

    manifest = read_manifest(clients, folder_of(settings))
    assert manifest["rows"] == outcome.rows == 2500
    assert [part["rows"] for part in manifest["parts"]] == [1000, 1000, 500]
    assert manifest["model"]["version"] == "1" and manifest["inference_run_id"] == outcome.run_id
    ids = pq.read_table(committed_parts(clients, folder_of(settings))).column("prediction_id").to_pylist()
    assert [message.key for message in clients.acknowledged] == ids  # each prediction once, in order
    first = json.loads(clients.acknowledged[0].value)
    assert first["prediction_id"] == f"iris-model:{DATE}:0" and first["model"]["version"] == "1"
    assert read_published(clients, folder_of(settings))["inference_run_id"] == outcome.run_id

    (run,) = mlflow.tracking.runs
    assert run.status == "FINISHED" and run.tags["published"] == "yes"
    assert run.metrics["rows"] == 2500 and run.metrics["kafka_delivered"] == 2500
    assert sum(v for k, v in run.metrics.items() if k.startswith("class_fraction_")) == pytest.approx(1)
    assert "drift/drift.png" in run.artifacts and "psi_petal_length" in run.metrics


def test_a_refused_delivery_fails_the_publish_and_publish_resends_every_key(model):
    settings = load_settings(inference={"rows": 1000, "kafka": KAFKA})
    refusing = FakeKafkaClients(refuse=lambda key: key == f"iris-model:{DATE}:700")
    with pytest.raises(PipelineError) as failure:
        score(settings, FakeMlflow.serving(model), refusing)
    assert f"first failing key iris-model:{DATE}:700" in failure.value.headline
    assert "1 failed" in failure.value.headline
    assert read_manifest(refusing, folder_of(settings)) is not None  # committed: only the publish failed
    assert read_published(refusing, folder_of(settings)) is None

    healthy = FakeKafkaClients()
    resumed = run_publish(settings, DATE, clients=healthy)
    assert resumed.results["kafka"].section["delivered"] == 1000
    assert sorted(m.key for m in healthy.acknowledged) == sorted(f"iris-model:{DATE}:{i}" for i in range(1000))
    assert run_publish(settings, DATE, clients=healthy).results == {}  # published already: left alone


def test_a_bad_row_fails_the_run_before_anything_is_committed_or_sent(model, tmp_path):
    rows = iris_rows(300)
    rows.loc[250, "petal_width"] = float("inf")
    rows.to_csv(tmp_path / "in.csv", index=False)
    settings = load_settings(inference={"input": str(tmp_path / "in.csv"), "batch_size": 100, "kafka": KAFKA})
    mlflow, clients = FakeMlflow.serving(model), FakeKafkaClients()
    with pytest.raises(DataError, match="row 250"):
        score(settings, mlflow, clients)
    assert not Path(folder_of(settings)).exists()  # the parts of batches 0-1 were removed
    assert clients.acknowledged == []
    assert mlflow.tracking.runs[0].status == "FAILED"


def test_with_quarantine_the_bad_rows_are_kept_apart_and_the_rest_committed(model, tmp_path):
    rows = iris_rows(300)
    rows.loc[[5, 250], "petal_width"] = float("inf")
    rows.to_csv(tmp_path / "in.csv", index=False)
    settings = load_settings(inference={"input": str(tmp_path / "in.csv"), "on_bad_rows": "quarantine"})
    outcome = score(settings, FakeMlflow.serving(model), FakeKafkaClients())
    manifest = read_manifest(FakeKafkaClients(), folder_of(settings))
    assert (outcome.rows, outcome.bad_rows) == (298, 2)
    assert (manifest["rows"], manifest["bad_rows"]) == (298, 2)
    quarantined = pq.read_table(committed_parts(FakeKafkaClients(), folder_of(settings), quarantine=True))
    assert quarantined.column("row_id").to_pylist() == [5, 250]


def test_fail_on_drift_commits_nothing_and_publishes_nothing(model, tmp_path):
    rows = iris_rows(400) * 10  # every measurement ten times its training range
    rows.to_csv(tmp_path / "in.csv", index=False)
    settings = load_settings(
        inference={"input": str(tmp_path / "in.csv"), "drift": {"fail_on_drift": True}, "kafka": KAFKA}
    )
    clients = FakeKafkaClients()
    with pytest.raises(PipelineError, match="drifted"):
        score(settings, FakeMlflow.serving(model), clients)
    assert read_manifest(clients, folder_of(settings)) is None and clients.acknowledged == []


def test_an_input_without_rows_is_refused_unless_allowed(model, tmp_path):
    (tmp_path / "in.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n")
    settings = load_settings(inference={"input": str(tmp_path / "in.csv")})
    with pytest.raises(DataError, match="has no rows"):
        score(settings, FakeMlflow.serving(model), FakeKafkaClients())
    allowed = load_settings(inference={"input": str(tmp_path / "in.csv"), "allow_empty": True})
    assert score(allowed, FakeMlflow.serving(model), FakeKafkaClients()).rows == 0
    assert read_manifest(FakeKafkaClients(), folder_of(allowed))["rows"] == 0


class _BrokenStore(Sink):
    """A store whose write fails on the second batch."""

    name = "broken"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def check(self) -> str:
        return "ok"

    def open(self, stamp) -> None:
        self.calls.append("open")

    def write(self, batch) -> None:
        self.calls.append("write")
        if self.calls.count("write") == 2:
            raise PipelineError("disk full", "free some space")

    def finish(self):
        raise AssertionError("never reached")

    def commit(self, manifest) -> None:
        raise AssertionError("never reached")

    def abort(self) -> None:
        self.calls.append("abort")


def test_a_store_that_fails_aborts_every_store_and_nothing_is_committed(model):
    settings = load_settings(inference={"rows": 500, "batch_size": 100})
    clients, broken = FakeKafkaClients(), _BrokenStore()
    stores = [*build_sinks(settings, clients), broken]
    with pytest.raises(PipelineError, match="disk full"):
        score(settings, FakeMlflow.serving(model), clients, sinks=stores)
    assert broken.calls[-1] == "abort" and broken.calls.count("write") == 2  # nothing written after it failed
    assert not Path(folder_of(settings)).exists()
