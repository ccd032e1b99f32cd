"""The container entrypoints against a temporary /opt/ml-shaped folder, as SageMaker runs them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from mlplatform.sagemaker.entrypoints import score_main, split_hyperparameters, train_main

ENTRYPOINT_DIR = Path(sys.executable).parent


@pytest.fixture
def opt_ml(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "opt" / "ml"
    (root / "input" / "config").mkdir(parents=True)
    monkeypatch.setenv("MLPLATFORM_SAGEMAKER_ROOT", str(root))
    return root


def write_hyperparameters(root: Path, values: dict[str, str]) -> None:
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(values))


def channel(root: Path, name: str, frame: pd.DataFrame) -> None:
    folder = root / "input" / "data" / name
    folder.mkdir(parents=True)
    frame.to_csv(folder / f"{name}.csv", index=False)


def test_hyperparameters_are_strings_and_foreign_keys_are_ignored():
    params, settings = split_hyperparameters(
        {"n_estimators": "50", "max_depth": "None", "target": '"label"', "sagemaker_program": "x", "_tuning": "1"}
    )
    assert params == {"n_estimators": "50", "max_depth": "None"}
    assert settings == {"target_column": "label"}


def test_seed_001_training_hyperparameters_are_accepted(caplog):
    """terraform.tfvars of seed 001: model_name / experiment_name next to the model's own, and
    seed 003's max_features="auto", which scikit-learn removed (it meant "sqrt" for classifiers)."""
    params, settings = split_hyperparameters({"n_estimators": "100", "max_depth": "10", "max_features": "auto",
                                              "model_name": "staging-classifier",
                                              "experiment_name": "staging-experiments"})  # fmt: skip
    assert params == {"n_estimators": "100", "max_depth": "10", "max_features": "sqrt"}
    assert settings == {"model_name": "staging-classifier", "experiment_name": "staging-experiments"}
    assert "max_features='auto' was removed from scikit-learn; read as 'sqrt'" in caplog.text


def test_training_job_with_training_and_validation_channels(opt_ml, iris, monkeypatch):
    monkeypatch.delenv("MLPLATFORM_HOME")  # no tracking URI either: the embedded store goes to output/data
    frame = iris.rename(columns={"species": "label"}).sample(frac=1.0, random_state=1)
    channel(opt_ml, "training", frame.iloc[:120])
    channel(opt_ml, "validation", frame.iloc[120:])
    write_hyperparameters(opt_ml, {"n_estimators": "25", "max_depth": "None", "target": "label",
                                   "sagemaker_region": '"us-east-1"'})  # fmt: skip
    assert train_main() == 0
    model = opt_ml / "model"
    assert (model / "MLmodel").is_file()
    summary = json.loads((model / "mlplatform.json").read_text())
    assert summary["version"] == "1" and summary["promotion"]["promote"] is True
    assert (opt_ml / "output" / "data" / "mlplatform" / "mlflow.db").is_file()
    assert not (opt_ml / "output" / "failure").exists()

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{opt_ml / 'output/data/mlplatform/mlflow.db'}")
    run = client.get_run(client.get_model_version("iris-model", "1").run_id)
    assert run.data.params["n_estimators"] == "25" and run.data.params["max_depth"] == "None"
    assert run.data.params["data.rows"] == "120"
    loaded = mlflow.sklearn.load_model(str(model))
    assert loaded[-1].n_estimators == 25  # the pipeline's estimator, after its preprocessing


@pytest.mark.parametrize(
    ("hyperparameters", "data", "expected"),
    [
        ({"criterion": "bogus"}, None, "invalid hyperparameter criterion='bogus'"),
        ({"n_trees": "5"}, None, "unknown hyperparameter 'n_trees'"),
        ({"target": "species"}, "single-class", "single class 'setosa'"),
    ],
)
def test_training_failure_leaves_its_reason_and_exits_2(opt_ml, iris, hyperparameters, data, expected):
    if data == "single-class":
        channel(opt_ml, "training", iris[iris.species == "setosa"])
    write_hyperparameters(opt_ml, hyperparameters)
    assert train_main() == 2
    assert expected in (opt_ml / "output" / "failure").read_text()
    assert not (opt_ml / "model" / "MLmodel").exists()


@pytest.mark.usefixtures("trained")
def test_processing_job_scores_its_input_into_the_output_folder(opt_ml, iris):
    folder = opt_ml / "processing" / "input" / "data"
    folder.mkdir(parents=True)
    iris.drop(columns="species").to_parquet(folder / "batch.parquet")
    assert score_main(["--date", "2026-11-22"]) == 0
    output = opt_ml / "processing" / "output"
    manifest = json.loads((output / "iris/inference-output/model=iris-model/date=2026-11-22/_SUCCESS").read_text())
    assert manifest["rows"] == 150 and manifest["model"]["version"] == "1"
    report = json.loads((output / "run-2026-11-22-local.json").read_text())
    assert report["rows"] == 150 and report["host"] == "local"


@pytest.mark.usefixtures("trained")
def test_sharded_processing_gives_each_host_its_own_complete_partition(opt_ml, iris):
    ids = set()
    for index, host in enumerate(["algo-1", "algo-2"]):
        (opt_ml / "config").mkdir(exist_ok=True)
        (opt_ml / "config" / "resourceconfig.json").write_text(
            json.dumps({"current_host": host, "hosts": ["algo-1", "algo-2"]})
        )
        folder = opt_ml / "processing" / "input" / "data"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        iris.drop(columns="species").iloc[index * 75 : (index + 1) * 75].to_parquet(folder / f"shard-{index}.parquet")
        assert score_main(["--date", "2026-11-22"]) == 0
        partition = opt_ml / "processing/output/iris/inference-output/model=iris-model/date=2026-11-22" / f"host={host}"
        assert json.loads((partition / "_SUCCESS").read_text())["rows"] == 75
        ids |= set(pd.read_parquet(partition).prediction_id)
    assert len(ids) == 150  # no prediction id shared between hosts


@pytest.mark.usefixtures("trained")
def test_processing_failure_writes_the_exit_message(opt_ml, iris):
    folder = opt_ml / "processing" / "input" / "data"
    folder.mkdir(parents=True)
    iris.drop(columns=["species", "petal_width"]).to_csv(folder / "bad.csv", index=False)
    assert score_main(["--date", "auto"]) == 2
    message = (opt_ml / "output" / "message").read_text()
    assert "lacks column 'petal_width'" in message and len(message) <= 1024


@pytest.mark.usefixtures("trained")
def test_the_installed_entrypoints_run_as_processes(opt_ml, isolated_env):
    env = os.environ | {"MLPLATFORM_SAGEMAKER_ROOT": str(opt_ml)}
    scored = subprocess.run([ENTRYPOINT_DIR / "mlplatform-sagemaker-score", "--date", "2026-11-23"], env=env,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert "scored 1000 rows for 2026-11-23" in scored.stdout
    write_hyperparameters(opt_ml, {"max_features": "auto", "n_estimators": "5", "model_name": "seed-model",
                                   "experiment_name": "seed-experiment"})  # fmt: skip
    # `<image> train` is how SageMaker starts a job that sets no ContainerEntrypoint (seed 003's job)
    trained = subprocess.run([ENTRYPOINT_DIR / "mlplatform-sagemaker-train", "train"], env=env, capture_output=True,
                             text=True, timeout=300, check=False)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "read as 'sqrt'" in trained.stderr
    summary = json.loads((opt_ml / "model" / "mlplatform.json").read_text())
    assert summary["model_name"] == "seed-model"

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{isolated_env.resolve() / 'mlflow.db'}")
    run = client.get_run(summary["run_id"])
    assert run.data.params["max_features"] == "sqrt"
    assert client.get_experiment(run.info.experiment_id).name == "seed-experiment"


def test_training_reads_the_logical_dates_partition(opt_ml, iris):
    training = opt_ml / "input" / "data" / "training"
    for day, rows in (("2026-11-15", 90), ("2026-11-22", 150)):
        (training / f"date={day}").mkdir(parents=True)
        iris.sample(n=rows, random_state=0).to_csv(training / f"date={day}" / "iris.csv", index=False)
    write_hyperparameters(opt_ml, {"n_estimators": "5", "target": "species"})
    assert train_main(["--date", "2026-11-15"]) == 0, (opt_ml / "output" / "failure").read_text()
    summary = json.loads((opt_ml / "model" / "mlplatform.json").read_text())
    assert summary["logical_date"] == "2026-11-15"
    assert summary["data_source"].rstrip("/").endswith("date=2026-11-15")


@pytest.mark.parametrize("entrypoint", [train_main, score_main])
def test_an_unwired_tracking_uri_fails_before_any_work(opt_ml, monkeypatch, entrypoint):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # a pipeline parameter that never got its value
    assert entrypoint(["--date", "2026-11-22"]) == 2
    reason = opt_ml / "output" / ("failure" if entrypoint is train_main else "message")
    assert "MLFLOW_TRACKING_URI is set but empty" in reason.read_text()
    assert not (opt_ml / "model").exists() or not any((opt_ml / "model").iterdir())


@contextlib.contextmanager
def as_image_user(folder: Path):
    """Run as uid 1000 (the images' user) against a folder owned by root, as SageMaker mounts
    /opt/ml/model; without root, a read-only folder stands for it."""
    if os.getuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    os.seteuid(1000)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.parametrize(("entrypoint", "folder", "reason"), [
    (train_main, "model", "output/failure"),
    (score_main, "processing/output", "output/message"),
])  # fmt: skip
def test_an_unwritable_output_folder_is_one_clear_error(monkeypatch, entrypoint, folder, reason):
    root = Path(tempfile.mkdtemp(prefix="opt-ml-"))  # not under pytest's 0700 tmp dir: uid 1000 must reach it
    try:
        root.chmod(0o755)
        (root / folder).mkdir(parents=True)
        (root / "output").mkdir()
        if os.getuid() == 0:
            os.chown(root / "output", 1000, 1000)  # the failure file's folder stays writable
        monkeypatch.setenv("MLPLATFORM_SAGEMAKER_ROOT", str(root))
        with as_image_user(root / folder):
            code = entrypoint(["--date", "2026-11-22"])
        assert code == 2
        message = (root / reason).read_text()
        assert f"{root / folder}" in message and "is not writable by uid" in message
        assert "--build-arg APP_UID=0" in message
    finally:
        shutil.rmtree(root)
