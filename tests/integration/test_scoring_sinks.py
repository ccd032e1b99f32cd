"""Kafka and S3 sinks against real local servers, failures, and bad inputs that change nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from tests.integration.services import free_port

pytestmark = pytest.mark.usefixtures("trained")
DATE = "2026-11-05"
MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{time.monotonic_ns()}", "auto.offset.reset": "earliest",
         "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(10_000, timeout=1) if m.error() is None]
        # anything beyond `expected` would be a duplicate: give it a moment to show up
        messages += [m for m in consumer.consume(10_000, timeout=2) if m.error() is None]
    finally:
        consumer.close()
    return messages


@pytest.fixture
def kafka_env(kafka_broker, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    return kafka_broker


def test_one_message_per_prediction_with_deterministic_keys(cli, kafka_env, isolated_env):
    result = cli("score", "--rows", "20000", "--batch-size", "5000", "--date", DATE)
    assert result.exit_code == 0, result.output

    messages = consume_all(kafka_env.bootstrap, "predictions", 20_000)
    keys = [m.key().decode() for m in messages]
    assert len(keys) == 20_000
    assert set(keys) == {f"iris-model:{DATE}:{i}" for i in range(20_000)}
    documents = [json.loads(m.value()) for m in messages]
    assert {d["model"]["version"] for d in documents} == {"1"}
    assert all(d["prediction_id"] == k for d, k in zip(documents, keys, strict=True))
    assert messages[0].headers() is None  # the value holds the schema and model version

    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    written = json.loads((folder / "_SUCCESS").read_text())
    published = json.loads((folder / "_PUBLISHED").read_text())
    assert published["kafka"] == {
        "topic": "predictions", "produced": 20000, "delivered": 20000, "failed": 0, "unacknowledged": 0,
        "first_error": None,
    }  # fmt: skip
    assert published["inference_run_id"] == written["inference_run_id"] == documents[0]["inference_run_id"]
    assert written["publish_to"] == {"kafka": "predictions"}


def test_rerun_republishes_the_same_keys_with_headers_on_request(cli, kafka_env, monkeypatch):
    monkeypatch.setenv("KAFKA_HEADERS", "true")
    assert cli("score", "--rows", "500", "--date", DATE).exit_code == 0
    assert cli("score", "--rows", "500", "--date", DATE).exit_code == 0
    messages = consume_all(kafka_env.bootstrap, "predictions", 1000)
    keys = [m.key().decode() for m in messages]
    assert len(keys) == 1000 and len(set(keys)) == 500
    headers = dict(messages[0].headers())
    assert headers["model_version"] == b"1" and headers["schema_version"] == b"1"


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is installed by `make test` (Debian package)")
def test_several_publishing_processes_send_every_prediction_once_and_count_their_shares(
    cli, kafka_env, monkeypatch, isolated_env
):
    monkeypatch.setenv("KAFKA_PROCESSES", "3")
    result = cli("score", "--rows", "60000", "--batch-size", "2000", "--date", DATE)
    assert result.exit_code == 0, result.output

    keys = [m.key().decode() for m in consume_all(kafka_env.bootstrap, "predictions", 60_000)]
    assert len(keys) == 60_000 and set(keys) == {f"iris-model:{DATE}:{i}" for i in range(60_000)}
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    published = json.loads((folder / "_PUBLISHED").read_text())["kafka"]
    assert published["delivered"] == 60_000 and published["failed"] == published["unacknowledged"] == 0
    shares = published["produced_by_process"]
    assert set(shares) == {"main", "kafka-publisher-1", "kafka-publisher-2"} and sum(shares.values()) == 60_000


def _committed_date(cli, monkeypatch, isolated_env, rows: int):
    """A date scored to files only, as publishing processes read it back."""
    from mlplatform.clients import Clients
    from mlplatform.sinks.committed import CommittedOutput

    with monkeypatch.context() as files_only:
        files_only.delenv("KAFKA_BOOTSTRAP_SERVERS")
        assert cli("score", "--rows", str(rows), "--batch-size", "1000", "--date", DATE).exit_code == 0
    output = CommittedOutput.load(Clients(), str(isolated_env / "data/iris/inference-output/model=iris-model" /
                                                 f"date={DATE}"))  # fmt: skip
    assert output is not None and output.part_count == rows // 1000
    return output


def _helpers(kafka_env, output, manifest=None):
    """One helper process (spawned for real) publishing every part of `output` on its own."""
    import multiprocessing

    from mlplatform.config.inference import KafkaSettings
    from mlplatform.sinks.kafka_processes import HelperJob, HelperProcesses

    settings = KafkaSettings(bootstrap_servers=kafka_env.bootstrap, topic="predictions")
    job = HelperJob(settings, "test", None, None, "us-east-1", output.uri, manifest or output.manifest, os.getpid())
    tasks = multiprocessing.get_context("spawn").Queue()
    for index in range(output.part_count):
        tasks.put(index)
    tasks.put(None)
    advanced: list[int] = []
    team = HelperProcesses(1, job, tasks, advanced.append)
    team.start()
    try:
        team.wait()
    finally:
        team.close()
    return team.results["kafka-publisher-1"], advanced


def test_a_helper_process_publishes_the_parts_it_takes_and_reports_every_delivery(
    cli, kafka_env, monkeypatch, isolated_env
):
    output = _committed_date(cli, monkeypatch, isolated_env, 6000)
    result, advanced = _helpers(kafka_env, output)
    assert (result.produced, result.delivered, result.failed, result.reason) == (6000, 6000, 0, None)
    assert sum(advanced) == 6000  # progress reached the parent
    keys = {m.key().decode() for m in consume_all(kafka_env.bootstrap, "predictions", 6000)}
    assert keys == {f"iris-model:{DATE}:{i}" for i in range(6000)}


def test_a_helper_that_fails_stops_its_producer_and_accounts_for_every_message_it_handled(
    cli, kafka_env, monkeypatch, isolated_env
):
    from mlplatform.sinks.kafka_processes import merged

    output = _committed_date(cli, monkeypatch, isolated_env, 3000)
    manifest = json.loads(json.dumps(output.manifest))
    manifest["parts"][2]["path"] = "run=gone/part-00002.parquet"  # the third part cannot be read
    result, advanced = _helpers(kafka_env, output, manifest)
    assert result.reason is not None and result.reason.startswith("kafka-publisher-1: ")
    assert sum(advanced) == 2000  # two parts handed to its publishing thread, which produced
    assert result.produced <= 2000  # what it had reached when the stop came
    assert result.acknowledged + result.purged + result.failed + result.unacknowledged == result.produced
    total = merged({"kafka-publisher-1": result}, 3000, "predictions")
    line = total.error(DATE).headline
    never_sent = 3000 - result.produced + result.purged
    assert f"{result.acknowledged:,} acknowledged" in line and f"{never_sent:,} never sent of 3,000" in line
    assert "kafka-publisher-1: " in line


def test_parts_nobody_can_read_end_in_one_line_whichever_process_took_them(cli, kafka_env, monkeypatch, isolated_env):
    from mlplatform.clients import Clients
    from mlplatform.config.inference import KafkaSettings
    from mlplatform.errors import PipelineError
    from mlplatform.sinks.committed import CommittedOutput
    from mlplatform.sinks.kafka_processes import publish_with_helpers
    from mlplatform.sinks.kafka_producer import TrackedProducer

    output = _committed_date(cli, monkeypatch, isolated_env, 4000)
    manifest = json.loads(json.dumps(output.manifest))
    for part in manifest["parts"]:
        part["path"] = "run=gone/" + part["path"].rsplit("/", 1)[-1]
    broken = CommittedOutput(output.clients, output.uri, manifest)
    publisher = TrackedProducer(KafkaSettings(bootstrap_servers=kafka_env.bootstrap, topic="predictions"), "test",
                               None, Clients())  # fmt: skip
    publisher.start(DATE, broken.rows, None)
    with pytest.raises(PipelineError) as failed:
        publish_with_helpers(publisher, broken, 1, lambda _: None)
    line = failed.value.headline
    assert f"Kafka publish of {DATE} to topic 'predictions' failed (" in line
    assert "0 acknowledged, 0 failed, 4,000 never sent of 4,000" in line and "No such file" in line, line


def test_kcat_reads_what_mlplatform_published(cli, kafka_env):
    assert cli("score", "--rows", "1000", "--date", DATE).exit_code == 0
    out = subprocess.run(
        ["kcat", "-b", kafka_env.bootstrap, "-C", "-t", "predictions", "-o", "beginning", "-e", "-q", "-f", "%k\n"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert sorted(out.stdout.split()) == sorted(f"iris-model:{DATE}:{i}" for i in range(1000))


def test_broker_killed_mid_run_keeps_the_files_and_publish_resumes_without_rescoring(kafka_broker, isolated_env):
    env = os.environ | {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap,
        "KAFKA_TOPIC": "predictions",
        "MLPLATFORM_INFERENCE__KAFKA__DELIVERY_TIMEOUT_S": "5",
    }
    rows = 400_000
    process = subprocess.Popen(
        [MLPLATFORM, "score", "--rows", str(rows), "--batch-size", "20000", "--date", DATE],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    date_folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    deadline = time.monotonic() + 120
    while not any(date_folder.glob("run=*/part-00001.parquet")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    kafka_broker.kill()  # after the preflight, before the publish
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    error = " ".join(stderr.split())
    assert f"Kafka publish of {DATE} to topic 'predictions' failed" in error, stderr
    assert "0 acknowledged" in error and f"of {rows:,}" in error and "first failing key" in error
    assert f"mlplatform publish --date {DATE}" in error
    committed = json.loads((date_folder / "_SUCCESS").read_text())
    assert committed["rows"] == rows and not (date_folder / "_PUBLISHED").exists()

    from mlplatform.devstack.kafka_broker import mock_broker

    with mock_broker({"predictions": 4}) as fresh:
        env["KAFKA_BOOTSTRAP_SERVERS"] = fresh.bootstrap
        resumed = subprocess.run(
            [MLPLATFORM, "publish", "--date", DATE], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert resumed.returncode == 0, resumed.stderr
        assert topic_size(fresh.bootstrap, "predictions") == rows  # every prediction, once
        sample = consume_all(fresh.bootstrap, "predictions", 1000, timeout=30)
    assert {json.loads(m.value())["inference_run_id"] for m in sample} == {committed["inference_run_id"]}
    assert json.loads((date_folder / "_SUCCESS").read_text()) == committed  # not re-scored
    assert json.loads((date_folder / "_PUBLISHED").read_text())["kafka"]["delivered"] == rows


def topic_size(bootstrap: str, topic: str) -> int:
    """Messages in a topic: the sum of its partitions' high watermarks."""
    from confluent_kafka import TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "size"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def test_s3_input_and_output_with_atomic_replace(cli, s3_bucket, iris, tmp_path):
    from mlplatform.clients import Clients

    s3 = Clients().boto3("s3")
    rows = iris.drop(columns="species")
    local = tmp_path / "rows.parquet"
    rows.to_parquet(local, index=False)
    s3.upload_file(str(local), s3_bucket, f"incoming/date={DATE}/rows.parquet")

    root = f"s3://{s3_bucket}/ml"
    args = ["score", "--input", f"s3://{s3_bucket}/incoming", "--date", DATE, "--data-root", root]
    result = cli(*args, "--batch-size", "50")
    assert result.exit_code == 0, result.output
    prefix = f"ml/iris/inference-output/model=iris-model/date={DATE}/"

    def keys() -> list[str]:
        listing = s3.list_objects_v2(Bucket=s3_bucket, Prefix="ml/")
        return sorted(o["Key"] for o in listing.get("Contents", []))

    manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=prefix + "_SUCCESS")["Body"].read())
    run = manifest["run"]
    assert keys() == [prefix + "_SUCCESS", *(prefix + f"{run}/part-0000{i}.parquet" for i in range(3))]
    assert manifest["rows"] == 150 and manifest["input"]["files"][0].endswith("rows.parquet")

    result = cli(*args, "--batch-size", "100")  # same date again: replaced, not added to
    assert result.exit_code == 0, result.output
    run = json.loads(s3.get_object(Bucket=s3_bucket, Key=prefix + "_SUCCESS")["Body"].read())["run"]
    assert keys() == [prefix + "_SUCCESS", prefix + f"{run}/part-00000.parquet", prefix + f"{run}/part-00001.parquet"]
    import pyarrow.dataset as ds

    from mlplatform.sinks.committed import committed_parts

    parts = [uri.removeprefix("s3://") for uri in committed_parts(Clients(), f"s3://{s3_bucket}/{prefix}")]
    assert ds.dataset(parts, filesystem=Clients().s3_filesystem(), format="parquet").count_rows() == 150


def _previous_output(cli, isolated_env) -> tuple[dict, dict[str, bytes]]:
    assert cli("score", "--rows", "300", "--date", DATE).exit_code == 0
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    return json.loads((folder / "_SUCCESS").read_text()), files


BAD_INPUTS = {
    "missing column": (lambda rows: rows.drop(columns="petal_width"), "lacks column 'petal_width'"),
    "extra column": (lambda rows: rows.assign(colour="red"), "has column 'colour' the model does not know"),
    "text column": (lambda rows: rows.astype({"sepal_width": str}), "column 'sepal_width'"),
    "infinite value": (
        lambda rows: rows.assign(
            sepal_length=[float("inf") if i == 42 else v for i, v in enumerate(rows.sepal_length)]
        ),
        "row 42 of",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_leaves_the_previous_output_untouched(case, cli, isolated_env, iris, tmp_path):
    before_manifest, before_files = _previous_output(cli, isolated_env)
    change, expected = BAD_INPUTS[case]
    path = tmp_path / "bad.parquet"
    change(iris.drop(columns="species")).to_parquet(path, index=False)
    result = cli("score", "--input", str(path), "--date", DATE)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    assert {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before_files
    assert json.loads((folder / "_SUCCESS").read_text()) == before_manifest


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model-uri", "models:/iris-model@staging"], "has no alias 'staging' (aliases: @production (v1))"),
        (["--model-uri", "models:/iris-model/9"], "has no version '9' (versions: 1)"),
        (["--model-uri", "models:/churn@production"], "no registered model 'churn'"),
        (["--model-uri", "s3://bucket/model.pkl"], "unsupported model URI"),
        (["--input", "/nonexistent/in.parquet"], "data not found"),
        (["--date", "2026-13-01"], "invalid --date"),
        (["--format", "xml"], "inference.output_format='xml'"),
    ],
)
def test_bad_model_or_options_are_usage_errors(cli, isolated_env, args, expected):
    before_manifest, _ = _previous_output(cli, isolated_env)
    result = cli("score", "--date", DATE, *args) if "--date" not in args else cli("score", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    assert json.loads((folder / "_SUCCESS").read_text()) == before_manifest


def test_check_reports_each_component(cli, kafka_env, monkeypatch):
    ok = cli("check")
    assert ok.exit_code == 0, ok.output
    assert [line.split()[0:2] for line in ok.output.strip().splitlines()] == [
        ["OK", "mlflow:"], ["OK", "model:"], ["OK", "storage:"], ["OK", "kafka:"], ["OK", "control"],
        ["SKIP", "schedule:"],
    ]  # fmt: skip

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    down = cli("check", "--model-uri", "models:/iris-model@nope")
    assert down.exit_code == 1
    assert "FAIL model: model 'iris-model' has no alias 'nope'" in down.output
    assert "FAIL kafka: Kafka at 127.0.0.1:" in down.output


def test_secrets_never_reach_the_output(cli, kafka_env, monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2-very-secret")
    result = cli("--verbose", "config", "show")
    assert "hunter2-very-secret" not in result.output
    scored = cli("--verbose", "score", "--rows", "100", "--date", DATE)
    assert scored.exit_code == 0, scored.output
    assert "hunter2-very-secret" not in scored.output
