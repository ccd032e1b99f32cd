"""`mlplatform score` end to end: registry model, streamed batches, per-date files, MLflow run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from mlplatform.sinks import Sink

pytestmark = pytest.mark.usefixtures("trained")
DATE = "2026-11-01"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def date_dir(home: Path, date: str = DATE) -> Path:
    return home / "data" / "iris" / "inference-output" / "model=iris-model" / f"date={date}"


def manifest(home: Path, date: str = DATE) -> dict:
    return json.loads((date_dir(home, date) / "_SUCCESS").read_text())


def test_generated_rows_give_one_complete_date(cli, isolated_env, embedded_client):
    result = cli("score", "--rows", "5000", "--batch-size", "1000", "--date", DATE, "--seed", "7")
    assert result.exit_code == 0, result.output

    folder = date_dir(isolated_env)
    written = manifest(isolated_env)
    assert written["rows"] == 5000 and written["bad_rows"] == 0
    assert written["model"]["version"] == "1" and written["model"]["name"] == "iris-model"
    assert len(written["parts"]) == 5
    for part in written["parts"]:
        data = (folder / part["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == part["sha256"] and len(data) == part["bytes"]

    table = ds.dataset(str(folder), format="parquet").to_table()
    assert table.num_rows == 5000
    assert set(table.column("model_version").unique().to_pylist()) == {"1"}
    assert table.column("prediction_id").to_pylist()[:2] == [f"iris-model:{DATE}:0", f"iris-model:{DATE}:1"]
    frame = table.to_pandas()
    probabilities = frame[["proba_setosa", "proba_versicolor", "proba_virginica"]]
    assert ((probabilities.sum(axis=1) - 1).abs() < 1e-9).all()
    assert set(frame["predicted_class"]) == {"setosa", "versicolor", "virginica"}
    assert not (folder.parent / "_pending").exists()

    client = embedded_client()
    run = client.get_run(written["inference_run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "iris-model-inference"
    assert run.data.metrics["rows"] == 5000
    assert {"psi_petal_length", "ks_petal_length", "rows_per_s", "class_fraction_setosa"} <= set(run.data.metrics)
    assert run.data.tags["model.version"] == "1"
    assert run.data.tags["output_uri"] == str(folder)
    drift_files = {f.path for f in client.list_artifacts(run.info.run_id, "drift")}
    assert drift_files == {"drift/drift.png", "drift/drift_report.json"}


def test_same_seed_same_predictions(cli, isolated_env, tmp_path):
    assert cli("score", "--rows", "2000", "--date", DATE, "--seed", "3").exit_code == 0
    first = ds.dataset(str(date_dir(isolated_env))).to_table().to_pandas()
    assert cli("score", "--rows", "2000", "--date", DATE, "--seed", "3").exit_code == 0
    second = ds.dataset(str(date_dir(isolated_env))).to_table().to_pandas()
    columns = ["prediction_id", *FEATURES, "predicted_class"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_rerunning_a_date_replaces_it(cli, isolated_env):
    assert cli("score", "--rows", "3000", "--batch-size", "1000", "--date", DATE).exit_code == 0
    first = manifest(isolated_env)
    assert cli("score", "--rows", "1000", "--date", DATE).exit_code == 0
    second = manifest(isolated_env)
    assert second["inference_run_id"] != first["inference_run_id"]
    files = sorted(p.name for p in date_dir(isolated_env).iterdir())
    assert files == ["_SUCCESS", f"run={second['inference_run_id']}"]  # the superseded run is gone
    assert ds.dataset(str(date_dir(isolated_env)), format="parquet").count_rows() == 1000


def test_other_dates_are_left_alone(cli, isolated_env):
    assert cli("score", "--rows", "100", "--date", "2026-11-02").exit_code == 0
    assert cli("score", "--rows", "200", "--date", DATE).exit_code == 0
    assert manifest(isolated_env, "2026-11-02")["rows"] == 100
    assert manifest(isolated_env)["rows"] == 200


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_outputs(cli, isolated_env, fmt):
    assert cli("score", "--rows", "300", "--date", DATE, "--format", fmt).exit_code == 0
    part = date_dir(isolated_env) / manifest(isolated_env)["parts"][0]["path"]
    assert part.name == f"part-00000.{fmt}"
    if fmt == "csv":
        frame = pd.read_csv(part)
        assert len(frame) == 300 and "predicted_class" in frame
    else:
        lines = part.read_text().splitlines()
        documents = [json.loads(line) for line in lines]
        assert len(documents) == 300
        assert documents[0]["model"]["version"] == "1"
        assert set(documents[0]["features"]) == set(FEATURES)


def write_input(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.fixture
def input_rows(iris) -> pd.DataFrame:
    return iris.drop(columns="species")


def test_files_from_a_date_partition_with_an_id_column(cli, isolated_env, tmp_path, input_rows):
    rows = input_rows.assign(customer_id=range(1000, 1150))
    root = tmp_path / "incoming"
    write_input(root / f"date={DATE}" / "a.parquet", rows.iloc[:100])
    write_input(root / f"date={DATE}" / "b.parquet", rows.iloc[100:])
    write_input(root / "date=2026-10-31" / "old.parquet", rows.iloc[:5])
    result = cli("score", "--input", str(root), "--date", DATE, "--id-column", "customer_id")
    assert result.exit_code == 0, result.output
    table = ds.dataset(str(date_dir(isolated_env))).to_table()
    assert table.num_rows == 150
    assert sorted(table.column("row_id").to_pylist()) == list(range(1000, 1150))
    assert manifest(isolated_env)["input"]["files"][0].endswith(f"date={DATE}/a.parquet")


def test_csv_input_folder_streams_in_batches(cli, isolated_env, tmp_path, input_rows):
    big = pd.concat([input_rows] * 20, ignore_index=True)  # 3000 rows
    write_input(tmp_path / "in" / "rows.csv", big)
    result = cli("score", "--input", str(tmp_path / "in"), "--date", DATE, "--batch-size", "700")
    assert result.exit_code == 0, result.output
    written = manifest(isolated_env)
    assert written["rows"] == 3000
    assert [p["rows"] for p in written["parts"]] == [700, 700, 700, 700, 200]


def test_bad_rows_are_quarantined_with_their_reason(cli, isolated_env, tmp_path, input_rows):
    rows = input_rows.copy()
    rows.loc[3, "sepal_length"] = None  # missing: the model imputes it
    rows.loc[7, "petal_width"] = float("inf")  # infinite: the model cannot score it
    path = write_input(tmp_path / "in.parquet", rows)
    result = cli("score", "--input", str(path), "--date", DATE, "--on-bad-rows", "quarantine")
    assert result.exit_code == 0, result.output
    written = manifest(isolated_env)
    assert (written["rows"], written["bad_rows"]) == (149, 1)
    quarantined = pd.read_parquet(date_dir(isolated_env) / written["quarantine"][0]["path"])
    assert quarantined["row_id"].tolist() == [7]
    assert quarantined["reason"].tolist() == ["petal_width is inf"]
    scored = pd.read_parquet(date_dir(isolated_env) / written["parts"][0]["path"])
    assert scored.loc[scored["row_id"] == 3, "predicted_class"].notna().all()
    assert scored.loc[scored["row_id"] == 3, "sepal_length"].isna().all()  # written as missing, not 0


@pytest.mark.parametrize("uri", ["models:/iris-model/1", "models:/iris-model/Production", "runs"])
def test_model_uri_forms_resolve_and_stamp_the_version(cli, isolated_env, embedded_client, uri):
    if uri == "runs":
        run_id = embedded_client().get_model_version("iris-model", "1").run_id
        uri = f"runs:/{run_id}/model"
    result = cli("score", "--rows", "50", "--date", DATE, "--model-uri", uri)
    assert result.exit_code == 0, result.output
    assert manifest(isolated_env)["model"]["version"] == "1"


def test_drift_fails_the_run_only_when_asked(cli, isolated_env, tmp_path, input_rows):
    shifted = write_input(tmp_path / "shifted.parquet", input_rows + 3.0)
    warned = cli("score", "--input", str(shifted), "--date", "2026-11-03")
    assert warned.exit_code == 0
    assert "drift above PSI" in warned.output
    failed = cli("score", "--input", str(shifted), "--date", DATE, "--fail-on-drift")
    assert failed.exit_code == 1
    assert "input drifted from the training data in" in failed.output
    assert not date_dir(isolated_env).exists()


def test_run_trains_then_scores(cli, isolated_env):
    result = cli("run", "--date", DATE, "-p", "n_estimators=10")
    assert result.exit_code == 0, result.output
    assert manifest(isolated_env)["model"]["version"] == "2"  # equal holdout score: the new one wins


class RecordingSink(Sink):
    """A sink that keeps what it is given in memory, and can fail on purpose."""

    name = "recorder"
    preflight = None
    writes_manifest = False

    def __init__(self, fail_in: str | None = None) -> None:
        self.fail_in = fail_in
        self.calls: list[str] = []
        self.rows = 0

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_in:
            from mlplatform.errors import PipelineError

            raise PipelineError(f"{name} failed on purpose")

    def check(self) -> str:
        self._call("check")
        return "ok"

    def open(self, stamp) -> None:
        self._call("open")

    def write(self, batch) -> None:
        self._call("write")
        self.rows += len(batch)

    def finish(self):
        from mlplatform.sinks import SinkResult

        self._call("finish")
        return SinkResult(self.name, {"rows": self.rows}, f"{self.rows} rows in memory")

    def commit(self, manifest) -> None:
        self._call("commit")

    def abort(self) -> None:
        self.calls.append("abort")


def test_every_sink_gets_every_batch_and_its_section_reaches_the_manifest(isolated_env):
    from mlplatform.clients import Clients
    from mlplatform.flows.scoring import run_scoring
    from mlplatform.flows.setup import load_settings
    from mlplatform.sinks import build_sinks

    settings = load_settings(inference={"rows": 2500, "batch_size": 1000})
    recorder = RecordingSink()
    outcome = run_scoring(settings, DATE, sinks=[*build_sinks(settings, Clients()), recorder])
    assert recorder.calls == ["open", "write", "write", "write", "finish", "commit"]
    assert manifest(isolated_env)["recorder"] == {"rows": 2500}
    assert outcome.sinks["recorder"].summary == "2500 rows in memory"


def test_a_sink_that_cannot_finish_aborts_every_sink(isolated_env):
    from mlplatform.clients import Clients
    from mlplatform.errors import PipelineError
    from mlplatform.flows.scoring import run_scoring
    from mlplatform.flows.setup import load_settings
    from mlplatform.sinks import build_sinks

    settings = load_settings(inference={"rows": 100})
    broken = RecordingSink(fail_in="finish")
    with pytest.raises(PipelineError, match="finish failed on purpose"):
        run_scoring(settings, DATE, sinks=[*build_sinks(settings, Clients()), broken])
    assert broken.calls[-2:] == ["finish", "abort"]
    assert not date_dir(isolated_env).exists()
    assert not (isolated_env / "data/iris/inference-output/model=iris-model/_pending").exists()


def test_a_compiled_forest_writes_the_same_predictions_as_scikit_learn(cli, isolated_env, embedded_client, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_INFERENCE__COMPILE", "never")
    assert cli("score", "--rows", "20000", "--date", DATE, "--seed", "5").exit_code == 0
    reference = ds.dataset(str(date_dir(isolated_env))).to_table().to_pandas()
    monkeypatch.setenv("MLPLATFORM_INFERENCE__COMPILE", "always")
    assert cli("score", "--rows", "20000", "--date", DATE, "--seed", "5").exit_code == 0
    compiled = ds.dataset(str(date_dir(isolated_env))).to_table().to_pandas()
    columns = ["prediction_id", "predicted_class", "proba_setosa", "proba_versicolor", "proba_virginica"]
    pd.testing.assert_frame_equal(compiled[columns], reference[columns])
    assert list((isolated_env / "compiled").glob("forest-*.so"))
    run = embedded_client().get_run(manifest(isolated_env)["inference_run_id"])
    assert run.data.tags["predictor"] == "compiled"
