"""Faults an operator meets in the first months, each reproduced with real processes: several
runs at once on one state directory, and what the second one does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlplatform.errors import EXIT_BUSY
from mlplatform.locks import exclusive_lock
from mlplatform.schedules.history import RunHistory

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
DATE = "2026-11-07"


def start(*args: str, home: Path) -> subprocess.Popen:
    env = os.environ | {"MLPLATFORM_HOME": str(home)}
    return subprocess.Popen([MLPLATFORM, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_first_runs_at_once_on_an_empty_state_directory(tmp_path, embedded_client, isolated_env):
    """Concurrent first use of the SQLite store used to corrupt it (`_alembic_tmp_...`) for good;
    four processes on two cores race for the migration as eight did, in half the time."""
    runs = [start("train", "-p", "n_estimators=5", home=isolated_env) for _ in range(4)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    assert [code for code, _ in results] == [0] * 4, [err[-500:] for code, err in results if code]
    versions = sorted(int(v.version) for v in embedded_client().search_model_versions("name='iris-model'"))
    assert versions == list(range(1, 5))  # unique and gap-free
    listed = subprocess.run([MLPLATFORM, "model", "list", "--json"], capture_output=True, text=True, check=False,
                            env=os.environ | {"MLPLATFORM_HOME": str(isolated_env)})  # fmt: skip
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 4


def test_a_second_score_of_the_same_model_and_date_says_who_is_running_or_waits(cli, trained, isolated_env):
    lock = isolated_env / "locks" / f"score-iris-model-{DATE}.lock"
    with exclusive_lock(lock, "a test holding the run"):
        refused = cli("score", "--rows", "100", "--date", DATE)
        assert refused.exit_code == EXIT_BUSY
        assert f"scoring iris-model for {DATE} is already running (pid {os.getpid()}" in refused.output
        assert not (isolated_env / "data" / "iris").exists()  # wrote nothing, removed nothing

        other_date = cli("score", "--rows", "100", "--date", "2026-11-08")
        assert other_date.exit_code == 0, other_date.output  # only the same model and date is held

        waited: dict[str, object] = {}
        queued = threading.Thread(target=lambda: waited.update(result=cli("score", "--rows", "100", "--date", DATE,
                                                                            "--wait")))  # fmt: skip
        queued.start()
        time.sleep(2)
        assert queued.is_alive()  # waiting behind the lock
    queued.join(timeout=120)
    assert waited["result"].exit_code == 0, waited["result"].output
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    assert json.loads((folder / "_SUCCESS").read_text())["rows"] == 100


def test_backfill_checks_for_success_after_taking_the_lock(cli, trained, isolated_env):
    """Two backfills of one range used to score the same date twice: the check came first."""
    with exclusive_lock(isolated_env / "locks" / "pipeline-inference.lock", "the other backfill"):
        backfill = start("backfill", "--from", DATE, "--to", DATE, home=isolated_env)
        time.sleep(3)  # it is now waiting for the pipeline lock
        assert backfill.poll() is None
        assert cli("score", "--rows", "100", "--date", DATE).exit_code == 0  # "the other backfill" does the date
    assert backfill.wait(timeout=120) == 0, backfill.stderr.read()
    runs = RunHistory(isolated_env / "runs.db").list()
    assert sorted((r.trigger, r.status) for r in runs) == [("backfill", "skipped"), ("manual", "succeeded")]


def test_a_password_in_the_tracking_uri_never_leaves_the_process(cli, mlflow_server_uri, monkeypatch, isolated_env):
    secret = "hunter2-canary-secret"
    with_password = mlflow_server_uri.replace("http://", f"http://svc:{secret}@")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", with_password)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-canary-12345")
    outputs = [
        cli("--verbose", "train", "-p", "n_estimators=5", "--model-name", "redaction-model"),
        cli("--verbose", "score", "--model-name", "redaction-model", "--rows", "50", "--date", DATE),
        cli("check", "--model-uri", "models:/redaction-model@production"),
        cli("model", "list", "--model-name", "redaction-model"),
        cli("config", "show"),
        cli("--verbose", "score", "--model-name", "no-such-model", "--rows", "5", "--date", DATE),  # an error line
    ]
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0, 0, 2], outputs[-1].output
    for result in outputs:
        assert secret not in result.output and "tok-canary-12345" not in result.output
    assert "svc:***@" in outputs[0].output
    manifest = isolated_env / "data/redaction/inference-output/model=redaction-model" / f"date={DATE}" / "_SUCCESS"
    assert secret not in manifest.read_text() and "svc:***@" in manifest.read_text()
    history = RunHistory(isolated_env / "runs.db")
    row = history.start("inference", DATE, None, "manual")
    history.finish(row, "failed", f"cannot reach {with_password}/api")
    assert secret not in (isolated_env / "runs.db").read_bytes().decode(errors="replace")


HOSTILE = {
    "duplicate row ids": (
        "id,sepal_length,sepal_width,petal_length,petal_width\n7,5.1,3.5,1.4,0.2\n8,6.1,2.8,4.7,1.2\n7,5.0,3.4,1.5,0.2\n",
        ["--id-column", "id"],
        "id column 'id' of",
    ),
    "header only": ("sepal_length,sepal_width,petal_length,petal_width\n", [], "has no rows for"),
    "beyond float32": (
        "sepal_length,sepal_width,petal_length,petal_width\n1e39,3.5,1.4,0.2\n5.0,3.4,1.5,0.2\n",
        [],
        "sepal_length is 1e+39, beyond the float32 range",
    ),
    "non-UTF-8 header": (
        b"sepal_length,sepal_width,petal_length,petal_width,caf\xe9\n5.1,3.5,1.4,0.2,1\n",
        [],
        "are not UTF-8 text",
    ),
    "true in a numeric column": (
        "sepal_length,sepal_width,petal_length,petal_width\ntrue,3.5,1.4,0.2\nfalse,3.4,1.5,0.2\n",
        [],
        "holds true/false values, the model expects numbers",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_one_line_exit_2_and_nothing_written_or_published(
    case, cli, trained, kafka_broker, monkeypatch, isolated_env, tmp_path
):
    from tests.integration.test_scoring_sinks import consume_all

    body, flags, expected = HOSTILE[case]
    path = tmp_path / "input.csv"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    result = cli("score", "--input", str(path), "--date", DATE, *flags)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and expected in errors[0], result.output
    assert "Traceback" not in result.output
    assert not (isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}").exists()
    assert consume_all(kafka_broker.bootstrap, "predictions", 0, timeout=3) == []


def test_a_tampered_model_is_refused_before_it_is_loaded(cli, trained, isolated_env, embedded_client):
    """Switching MLmodel to a pickle payload used to run it: the registered digest stops it."""
    mlmodel = next((isolated_env / "artifacts").rglob("MLmodel"))
    mlmodel.write_text(mlmodel.read_text().replace("serialization_format: skops", "serialization_format: pickle"))
    tampered = cli("score", "--rows", "10", "--date", DATE)
    assert tampered.exit_code == 1
    assert "do not match the SHA-256 recorded when it was registered" in tampered.output
    # the same model by its run is the registered version too: checked the same way
    run_id = embedded_client().get_model_version("iris-model", "1").run_id
    by_run = cli("score", "--rows", "10", "--date", DATE, "--model-uri", f"runs:/{run_id}/model")
    assert by_run.exit_code == 1 and "SHA-256" in by_run.output
    assert not (isolated_env / "data").exists()


def test_a_pickled_model_is_refused_unless_explicitly_allowed(tmp_path, isolated_env, monkeypatch):
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    from mlplatform.registry.mlflow import Connection, ModelLoader
    from mlplatform.registry.mlflow.models import ModelIntegrityError

    folder = tmp_path / "pickled"
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    mlflow.sklearn.save_model(model, str(folder), serialization_format="cloudpickle")
    connection = Connection(f"sqlite:///{tmp_path / 'm.db'}", tmp_path / "a", tmp_path / "locks")
    with pytest.raises(ModelIntegrityError, match="has no SHA-256 recorded at registration"):
        ModelLoader(connection).load_verified(str(folder), digest=None)
    loader = ModelLoader(connection, allow_unverified=True)  # unverified allowed: pickles still are not
    with pytest.raises(ModelIntegrityError, match="stored as cloudpickle, not skops"):
        loader.load_verified(str(folder), digest=None)
    monkeypatch.setenv("MLPLATFORM_ALLOW_PICKLE_MODELS", "true")
    loaded, _ = loader.load_verified(str(folder), digest=None)
    assert loaded.predict([[1.0]]).tolist() in ([0], [1])


# --- nothing is published for a run that fails; Kafka failures say what was and was not sent ---


def iris_rows(count: int, *, bad_row: int | None = None, ids: bool = False) -> str:
    lines = [("id," if ids else "") + "sepal_length,sepal_width,petal_length,petal_width"]
    for row in range(count):
        value = "inf" if row == bad_row else f"{4.5 + (row % 30) / 10:.1f}"
        lines.append((f"{row}," if ids else "") + f"{value},3.0,{1 + (row % 50) / 10:.1f},{(row % 25) / 10:.1f}")
    return "\n".join(lines) + "\n"


def test_a_bad_row_deep_in_the_input_publishes_nothing(cli, trained, monkeypatch, isolated_env, tmp_path):
    """Scoring used to publish every batch before the bad one: 25,000 messages, then exit 2."""
    from mlplatform.devstack.kafka_broker import mock_broker
    from tests.integration.test_scoring_sinks import topic_size

    path = tmp_path / "input.csv"
    path.write_text(iris_rows(30_000, bad_row=25_000))
    with mock_broker({"predictions": 2}) as broker:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
        monkeypatch.setenv("KAFKA_TOPIC", "predictions")
        result = cli("score", "--input", str(path), "--date", DATE, "--batch-size", "5000")
        assert result.exit_code == 2, result.output
        assert "row 25000 of" in result.output
        assert topic_size(broker.bootstrap, "predictions") == 0
    assert not (isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}").exists()


def test_a_drifted_input_with_fail_on_drift_publishes_nothing(cli, trained, monkeypatch, isolated_env, tmp_path):
    from mlplatform.devstack.kafka_broker import mock_broker
    from tests.integration.test_scoring_sinks import topic_size

    path = tmp_path / "input.csv"
    path.write_text(iris_rows(2_000).replace("\n4.", "\n9."))  # sepal_length shifted far up
    with mock_broker({"predictions": 2}) as broker:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
        monkeypatch.setenv("KAFKA_TOPIC", "predictions")
        result = cli("score", "--input", str(path), "--date", DATE, "--fail-on-drift")
        assert result.exit_code == 1, result.output
        assert "drifted from the training data" in result.output
        assert topic_size(broker.bootstrap, "predictions") == 0
    assert not (isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}" / "_SUCCESS").exists()


def kafka_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    return errors[0]


def test_a_message_the_producer_refuses_is_one_line_with_counts_and_its_key(
    cli, trained, monkeypatch, isolated_env, tmp_path
):
    """produce() raising (here: a message above message.max.bytes) used to be a traceback."""
    from mlplatform.devstack.kafka_broker import mock_broker

    body = iris_rows(100, ids=True).replace("\n60,", "\n" + "x" * 1500 + ",")
    path = tmp_path / "input.csv"
    path.write_text(body)
    with mock_broker({"predictions": 1}) as broker:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
        monkeypatch.setenv("KAFKA_TOPIC", "predictions")
        monkeypatch.setenv("KAFKA_CONFIG_MESSAGE_MAX_BYTES", "2000")
        result = cli("score", "--input", str(path), "--date", DATE, "--id-column", "id")
    assert result.exit_code == 1, result.output
    line = kafka_error_line(result.output)
    assert f"Kafka publish of {DATE} to topic 'predictions' failed (" in line and "Message size too large" in line
    assert "never sent of 100" in line and f"first failing key iris-model:{DATE}:xxxxxxxx" in line
    assert len(line) < 400  # a 1,500-character key is shortened
    assert (isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}" / "_SUCCESS").exists()


@pytest.mark.parametrize("processes", ["1", "3"])
def test_a_broker_refusing_the_topic_is_one_line_with_counts_and_the_first_failing_key(
    processes, cli, trained, monkeypatch, isolated_env
):
    from mlplatform.devstack.kafka_broker import mock_broker

    with mock_broker({"predictions": 1}, produce_errors={29: 200}) as broker:  # TOPIC_AUTHORIZATION_FAILED
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
        monkeypatch.setenv("KAFKA_TOPIC", "predictions")
        monkeypatch.setenv("KAFKA_PROCESSES", processes)  # 3: the parent and two helpers, the same one line
        result = cli("score", "--rows", "5000", "--batch-size", "500", "--date", DATE)
    assert result.exit_code == 1, result.output
    line = kafka_error_line(result.output)
    assert "Topic authorization failed" in line and "0 acknowledged" in line, line
    assert f"first failing key iris-model:{DATE}:" in line and "of 5,000" in line
    assert f"mlplatform publish --date {DATE}" in result.output
