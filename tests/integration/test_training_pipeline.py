"""`mlplatform train` end to end on the embedded store and on a real MLflow server."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from mlplatform.registry.history import events_from_tags

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
WORSE = ("-p", "n_estimators=1", "-p", "max_depth=1")


def aliases(client: MlflowClient, name: str = "iris-model") -> dict[str, str]:
    return {alias: str(version) for alias, version in client.get_registered_model(name).aliases.items()}


def history(client: MlflowClient, name: str = "iris-model"):
    return events_from_tags(client.get_registered_model(name).tags)


def test_train_twice_with_a_worse_second_model_keeps_the_champion(cli, embedded_client):
    first = cli("train")
    assert first.exit_code == 0, first.output
    assert "no champion yet" in first.output
    second = cli("train", *WORSE)
    assert second.exit_code == 0, second.output
    assert "challenger" in second.output

    client = embedded_client()
    assert aliases(client) == {"production": "1", "challenger": "2"}

    v1 = client.get_model_version("iris-model", "1").tags
    v2 = client.get_model_version("iris-model", "2").tags
    assert v1["promotion.decision"] == "promoted"
    assert v2["promotion.decision"] == "challenger"
    assert v2["promotion.champion_version"] == "1"
    assert float(v2["promotion.candidate_score"]) < float(v2["promotion.champion_score"])
    assert v1["data.digest"] == v2["data.digest"]

    events = history(client)
    assert [(e.alias, e.version, e.action, e.actor) for e in events] == [
        ("production", "1", "promote", "pytest"),
        ("challenger", "2", "challenger", "pytest"),
    ]


def test_a_run_logs_params_metrics_lineage_plots_profile_and_a_signed_model(cli, embedded_client, tmp_path):
    assert cli("train", "-p", "n_estimators=20").exit_code == 0
    client = embedded_client()
    version = client.get_model_version("iris-model", "1")
    run = client.get_run(version.run_id)

    assert run.data.params["n_estimators"] == "20"
    assert run.data.params["max_depth"] == "10"
    assert run.data.params["data.rows"] == "150"
    metrics = run.data.metrics
    for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro", "training_time_s", "f1_class_setosa"):
        assert name in metrics
    assert metrics["f1_macro"] > 0.8
    assert run.data.tags["data.source"] == "builtin:iris"
    assert len(run.data.tags["data.digest"]) == 16
    assert run.data.tags["mlplatform.version"]
    assert run.inputs.dataset_inputs[0].dataset.digest == run.data.tags["data.digest"]

    listed = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"plots", "profile", "feature_importance.csv"} <= listed
    plots = {f.path for f in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/confusion_matrix.png", "plots/feature_importance.png"}
    profile_path = client.download_artifacts(run.info.run_id, "profile/training_profile.json", str(tmp_path))
    profile = json.loads(Path(profile_path).read_text())
    assert profile["feature_names"] == IRIS_FEATURES
    assert profile["rows"] == 120  # the training split, not the holdout

    info = mlflow.models.get_model_info("models:/iris-model@production")
    assert [c["name"] for c in info.signature.inputs.to_dict()] == IRIS_FEATURES
    assert info.saved_input_example_info is not None


def test_promote_rollback_archive_and_history(cli, embedded_client):
    assert cli("train").exit_code == 0
    assert cli("train", *WORSE).exit_code == 0

    promoted = cli("model", "promote", "2", "--reason", "business override")
    assert promoted.exit_code == 0, promoted.output
    client = embedded_client()
    assert aliases(client) == {"production": "2"}  # the challenger alias left with its version

    rolled = cli("model", "rollback", "--reason", "v2 misbehaves")
    assert rolled.exit_code == 0, rolled.output
    assert "production -> v1 (was v2)" in rolled.output
    assert aliases(embedded_client()) == {"production": "1"}

    again = cli("model", "rollback")
    assert again.exit_code == 2
    assert "no previous 'production' version" in again.output

    events = history(embedded_client())
    assert [(e.version, e.action, e.reason) for e in events if e.alias == "production"] == [
        ("1", "promote", "no champion yet"),
        ("2", "manual", "business override"),
        ("1", "rollback", "v2 misbehaves"),
    ]
    shown = cli("model", "history", "--json")
    assert shown.exit_code == 0
    assert [e["reason"] for e in json.loads(shown.stdout)][-2:] == ["business override", "v2 misbehaves"]

    listing = cli("model", "list", "--json")
    assert listing.exit_code == 0
    versions = {v["version"]: v for v in json.loads(listing.stdout)}
    assert versions["1"]["aliases"] == ["production"]
    assert versions["2"]["tags"]["promotion.decision"] == "challenger"
    assert versions["1"]["metrics"]["f1_macro"] > versions["2"]["metrics"]["f1_macro"]
    table = cli("model", "list")
    assert table.exit_code == 0
    assert "iris-model" in table.output and "f1_macro" in table.output

    champion = cli("model", "archive", "1")
    assert champion.exit_code == 2 and "is the champion" in champion.output
    embedded_client().transition_model_version_stage("iris-model", "2", "Staging")  # the rollback archived it
    assert cli("model", "archive", "2").exit_code == 0
    archived = embedded_client().get_model_version("iris-model", "2")
    assert archived.tags["mlplatform.archived"] == "true" and archived.current_stage == "Archived"
    unconfirmed = cli("model", "delete-version", "2")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    deleted = cli("model", "delete-version", "2", "--yes")
    assert deleted.exit_code == 0 and "iris-model v2 deleted" in deleted.output
    assert [str(v.version) for v in embedded_client().search_model_versions("name='iris-model'")] == ["1"]


def test_archiving_on_a_registry_without_stages_warns_instead_of_failing(cli, embedded_client, monkeypatch):
    """SageMaker's MLflow and Unity Catalog refuse stages: the version is archived all the same."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    assert cli("train").exit_code == 0
    assert cli("train", *WORSE).exit_code == 0

    def no_stages(*_args, **_kwargs):
        raise MlflowException("model version stages are not supported by this registry")

    monkeypatch.setattr(MlflowClient, "transition_model_version_stage", no_stages)
    result = cli("model", "archive", "2")
    assert result.exit_code == 0, result.output
    assert embedded_client().get_model_version("iris-model", "2").tags["mlplatform.archived"] == "true"
    assert "legacy stage Archived not set on version 2" in result.output


def test_legacy_stage_uri_still_resolves_to_the_champion(cli):
    assert cli("train").exit_code == 0
    assert cli("train", *WORSE).exit_code == 0
    legacy = mlflow.sklearn.load_model("models:/iris-model/Production")
    by_alias = mlflow.sklearn.load_model("models:/iris-model@production")
    assert legacy[-1].n_estimators == by_alias[-1].n_estimators == 100


def test_promote_unknown_version_lists_the_existing_ones(cli):
    assert cli("train", "-p", "n_estimators=5").exit_code == 0
    result = cli("model", "promote", "9")
    assert result.exit_code == 2
    assert "has no version '9' (versions: 1)" in result.output


@pytest.mark.usefixtures("isolated_env")
def test_against_a_real_mlflow_server(cli, mlflow_server_uri, monkeypatch, iris_csv, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server_uri)
    monkeypatch.setenv("MODEL_NAME", "server-model")
    monkeypatch.setenv("EXPERIMENT_NAME", "server-experiment")
    first = cli("train", "--data", str(iris_csv), "--target", "label")
    assert first.exit_code == 0, first.output
    second = cli("train", "--data", str(iris_csv), "--target", "label")  # same data, same score
    assert second.exit_code == 0, second.output

    client = MlflowClient(mlflow_server_uri)
    assert aliases(client, "server-model") == {"production": "2"}
    tags = client.get_model_version("server-model", "2").tags
    assert tags["promotion.candidate_score"] == tags["promotion.champion_score"]
    run = client.get_run(client.get_model_version("server-model", "2").run_id)
    assert run.data.tags["data.source"] == str(iris_csv)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    # Artifacts went through the server's artifact proxy and come back from it.
    png = client.download_artifacts(run.info.run_id, "plots/confusion_matrix.png", str(tmp_path))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [e.version for e in history(client, "server-model")] == ["1", "2"]
    assert client.get_experiment_by_name("server-experiment") is not None


def test_unreachable_server_fails_fast_with_exit_1(cli, monkeypatch):
    from tests.integration.services import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    result = cli("train")
    assert result.exit_code == 1
    assert "unreachable" in result.output


def test_training_data_from_s3_with_a_parquet_folder(cli, s3_bucket, iris, tmp_path, embedded_client):
    from mlplatform.clients import Clients

    s3 = Clients().boto3("s3")
    for index, part in enumerate((iris.iloc[::2], iris.iloc[1::2])):
        local = tmp_path / f"part-{index}.parquet"
        part.to_parquet(local, index=False)
        s3.upload_file(str(local), s3_bucket, f"datasets/training/part-{index}.parquet")
    s3.put_object(Bucket=s3_bucket, Key="datasets/training/_SUCCESS", Body=b"")
    result = cli("train", "--data", f"s3://{s3_bucket}/datasets/training/", "--target", "species")
    assert result.exit_code == 0, result.output
    # the model is named after the data (the folder), not silently iris-model
    run = embedded_client().get_run(embedded_client().get_model_version("training-model", "1").run_id)
    assert run.data.tags["data.source"] == f"s3://{s3_bucket}/datasets/training/"
    assert run.data.params["data.rows"] == "150"


def test_missing_s3_object_is_bad_input(cli, s3_bucket):
    result = cli("train", "--data", f"s3://{s3_bucket}/nothing/here.csv")
    assert result.exit_code == 2
    assert "data not found" in result.output and "AWS_ENDPOINT_URL" in result.output
