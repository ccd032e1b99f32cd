"""Real-world tables end to end: mixed types and blanks, regression, two models side by side,
against the real MLflow server and the Kafka test broker."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
from mlflow import MlflowClient

from tests.integration.test_scoring_sinks import consume_all
from tests.support.tables import houses_like, penguins_like, real_world_traits

DATE = "2026-11-20"


def outputs(home: Path, model: str, date: str = DATE) -> Path:
    """Where a model's date lands: the layout's first folder follows the model (penguins-model -> penguins/)."""
    return home / "data" / model.removesuffix("-model") / "inference-output" / f"model={model}" / f"date={date}"


def test_mixed_types_train_on_the_server_and_score_raw_rows_to_files_and_kafka(
    cli, mlflow_server_uri, kafka_broker, monkeypatch, tmp_path, isolated_env
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server_uri)
    table = penguins_like()
    table.loc[[4, 9], "species"] = "  "  # blank labels
    table.to_csv(tmp_path / "penguins.csv", index=False)
    refused = cli("train", "--data", str(tmp_path / "penguins.csv"), "--target", "species")
    assert refused.exit_code == 2 and "has 2 missing or blank labels (data rows 5, 10)" in refused.output
    trained = cli("train", "--data", str(tmp_path / "penguins.csv"), "--target", "species", "--drop-unlabeled",
                  "--id-column", "penguin_id", "-p", "n_estimators=30")  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "penguins-model" in trained.output  # named after the data, never iris-model

    client = MlflowClient(mlflow_server_uri)
    version = client.get_model_version("penguins-model", "1")
    run = client.get_run(version.run_id)
    assert run.data.metrics["data.unlabeled_dropped"] == 2 and run.data.params["task"] == "classification"
    assert client.get_experiment(run.info.experiment_id).name == "penguins-model-training"
    import mlflow.models

    signature = mlflow.models.get_model_info("models:/penguins-model/1").signature.inputs.to_dict()
    kinds = {column["name"]: column["type"] for column in signature}
    assert kinds["island"] == "string" and kinds["body_mass_g"] == "double" and "penguin_id" not in kinds
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "profile")}
    assert {"profile/training_profile.json", "profile/data_report.md"} <= artifacts

    new_rows = penguins_like(300, seed=5).drop(columns="species")
    new_rows.loc[0, "island"] = "Atlantis"  # a category training never saw
    new_rows.to_parquet(tmp_path / "new.parquet", index=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    scored = cli("score", "--model-name", "penguins-model", "--input", str(tmp_path / "new.parquet"), "--date", DATE)
    assert scored.exit_code == 0, scored.output

    folder = outputs(isolated_env, "penguins-model")
    manifest = json.loads((folder / "_SUCCESS").read_text())
    assert (manifest["rows"], manifest["bad_rows"]) == (300, 0)  # blanks are scored, not quarantined
    frame = ds.dataset(str(folder), format="parquet").to_table().to_pandas()
    assert frame["row_id"].tolist()[:2] == ["p-00000", "p-00001"]  # the trained id column, carried
    assert frame["island"].iloc[0] == "Atlantis" and frame["predicted_class"].notna().all()
    inference = client.get_run(manifest["inference_run_id"])
    assert inference.data.metrics["unseen_island"] == 1
    messages = consume_all(kafka_broker.bootstrap, "predictions", 300)
    documents = {m.key().decode(): json.loads(m.value()) for m in messages}
    assert len(documents) == 300 and documents[f"penguins-model:{DATE}:p-00000"]["features"]["island"] == "Atlantis"


def test_regression_with_a_second_family_side_by_side_with_iris(cli, trained, isolated_env, tmp_path):
    houses_like().to_csv(tmp_path / "houses.csv", index=False)
    first = cli("train", "--data", str(tmp_path / "houses.csv"), "--target", "price", "--model",
                "hist_gradient_boosting")  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "houses-model v1 (hist_gradient_boosting, regression)" in first.output and "rmse" in first.output
    worse = cli("train", "--data", str(tmp_path / "houses.csv"), "--target", "price", "-p", "n_estimators=1",
                "-p", "max_depth=1")  # fmt: skip
    assert worse.exit_code == 0, worse.output
    assert "challenger - rmse" in " ".join(worse.output.split())  # higher RMSE does not win the gate

    for model in ("houses-model", "iris-model"):
        result = cli("score", "--model-name", model, "--rows", "500", "--date", DATE)
        assert result.exit_code == 0, result.output
    houses = pd.read_parquet(outputs(isolated_env, "houses-model"))
    iris = pd.read_parquet(outputs(isolated_env, "iris-model"))
    assert "predicted_value" in houses and "proba_setosa" not in houses and houses["predicted_value"].gt(0).all()
    assert "predicted_class" in iris  # the second model did not replace the first one's date
    assert houses["district"].isna().any()  # generated rows keep the training share of blanks


def test_a_raw_csv_with_every_round_two_trait_trains_with_defaults_and_scores(
    cli, embedded_client, isolated_env, tmp_path
):
    """Late first values beyond the first read block, a late decimal, ZIP+4 codes with blanks and
    leading zeros, ISO timestamps with zones, ~3,500 short codes, free text: `train` with nothing
    but --target, then `score` of the same raw file."""
    table = real_world_traits(13_000)  # 10,400 training rows: auto chooses boosting
    table.to_csv(tmp_path / "traits.csv", index=False)
    trained = cli("train", "--data", str(tmp_path / "traits.csv"), "--target", "label")
    assert trained.exit_code == 0, trained.output
    assert "traits-model v1 (hist_gradient_boosting" in trained.output

    client = embedded_client()
    run = client.get_run(client.get_model_version("traits-model", "1").run_id)
    params = run.data.params
    assert params["data.datetime"] == "stamp" and params["data.dropped_columns"] == "note"
    assert params["note.model_family"].startswith("auto chose hist_gradient_boosting: 10,400 training rows")
    assert "most frequent encoded on their own" in params["note.categories.tail"]
    assert run.data.metrics["f1_macro"] > 0.8

    scored = cli("score", "--model-name", "traits-model", "--input", str(tmp_path / "traits.csv"), "--date", DATE)
    assert scored.exit_code == 0, scored.output
    frame = pd.read_parquet(outputs(isolated_env, "traits-model"))
    assert len(frame) == len(table) and frame["predicted_class"].notna().all()
    assert frame["zip"].iloc[1] == "00501" and frame["citation"].iloc[-1] in ("YES", "NO")
    agreement = (frame.sort_values("row_id")["predicted_class"].to_numpy() == table["label"].to_numpy()).mean()
    assert agreement > 0.8
