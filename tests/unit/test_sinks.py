"""Sinks without servers: the local date writer, and the Kafka producer configuration."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlplatform.clients import Clients
from mlplatform.config.inference import KafkaSettings
from mlplatform.errors import PipelineError
from mlplatform.redact import redact_mapping
from mlplatform.sinks.committed import committed_parts, read_manifest
from mlplatform.sinks.files import DatePartitionWriter, sweep_abandoned
from mlplatform.sinks.formats import serialise
from mlplatform.sinks.kafka_producer import producer_config

CLIENTS = Clients()


def part(rows: int) -> bytes:
    return serialise(pa.table({"x": list(range(rows))}), "parquet")


def test_commit_switches_the_date_to_the_new_run_and_abort_keeps_the_old_one(tmp_path):
    date = f"{tmp_path}/p/inference-output/model=m/date=2026-11-01"
    folder = tmp_path / "p/inference-output/model=m/date=2026-11-01"
    first = DatePartitionWriter(CLIENTS, date, "parquet", "run1")
    first.write_part(part(3), 3)
    first.commit({"rows": 3})
    assert read_manifest(CLIENTS, date)["rows"] == 3
    assert committed_parts(CLIENTS, date) == [f"{date}/run=run1/part-00000.parquet"]

    second = DatePartitionWriter(CLIENTS, date, "parquet", "run2")
    second.write_part(part(5), 5)
    assert read_manifest(CLIENTS, date)["run"] == "run=run1"  # staged parts are not visible
    second.abort()
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "run=run1"]
    assert not (tmp_path / "p/inference-output/model=m/_pending").exists()

    third = DatePartitionWriter(CLIENTS, date, "parquet", "run3")
    third.write_part(part(5), 5)
    third.write_part(part(5), 5)
    third.commit({"rows": 10})
    manifest = json.loads((folder / "_SUCCESS").read_text())
    assert manifest["rows"] == 10 and [p["rows"] for p in manifest["parts"]] == [5, 5]
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "run=run3"]  # run1 collected
    assert [pq.read_table(uri).num_rows for uri in committed_parts(CLIENTS, date)] == [5, 5]


def test_a_commit_never_replaces_a_date_someone_else_committed_meanwhile(tmp_path):
    date = f"{tmp_path}/p/inference-output/model=m/date=2026-11-01"
    slow = DatePartitionWriter(CLIENTS, date, "parquet", "slow")
    slow.write_part(part(2), 2)
    fast = DatePartitionWriter(CLIENTS, date, "parquet", "fast")
    fast.write_part(part(4), 4)
    fast.commit({"rows": 4, "inference_run_id": "fast"})
    with pytest.raises(PipelineError, match="committed by another run \\(fast\\)"):
        slow.commit({"rows": 2, "inference_run_id": "slow"})
    assert read_manifest(CLIENTS, date)["rows"] == 4
    assert not (tmp_path / "p/inference-output/model=m/date=2026-11-01/run=slow").exists()


def test_leftovers_of_a_killed_run_are_swept_for_any_idle_date(tmp_path):
    model = f"{tmp_path}/p/inference-output/model=m"
    for day, run in (("2026-11-01", "dead"), ("2026-11-02", "live")):
        killed = DatePartitionWriter(CLIENTS, f"{model}/date={day}", "parquet", run)
        killed.write_part(part(1), 1)  # ... and the process died here
    removed = sweep_abandoned(CLIENTS, model, idle=lambda entry: entry["date"] == "2026-11-01")
    assert removed == [f"{model}/date=2026-11-01/run=dead"]
    assert not (tmp_path / "p/inference-output/model=m/date=2026-11-01").exists()
    assert (tmp_path / "p/inference-output/model=m/date=2026-11-02/run=live/part-00000.parquet").exists()
    assert [p.name for p in (tmp_path / "p/inference-output/model=m/_pending").iterdir()] == [
        "date=2026-11-02~run=live.json"
    ]


def test_a_run_whose_parts_were_swept_refuses_to_commit(tmp_path):
    model = f"{tmp_path}/p/inference-output/model=m"
    writer = DatePartitionWriter(CLIENTS, f"{model}/date=2026-11-01", "parquet", "r")
    writer.write_part(part(1), 1)
    sweep_abandoned(CLIENTS, model, idle=lambda entry: True)
    with pytest.raises(PipelineError, match="removed by another process"):
        writer.commit({"rows": 1})
    assert read_manifest(CLIENTS, f"{model}/date=2026-11-01") is None


def test_a_date_without_success_has_no_manifest(tmp_path):
    assert read_manifest(CLIENTS, f"{tmp_path}/p/inference-output/date=2026-11-01") is None


def test_producer_is_durable_and_passes_security_settings_through(monkeypatch):
    monkeypatch.setenv("KAFKA_CONFIG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "none")
    settings = KafkaSettings(
        bootstrap_servers="b:9092", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc", sasl_password="s3cret", delivery_timeout_s=12,
    )  # fmt: skip
    config = producer_config(settings, "client")
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["message.timeout.ms"] == 12000
    assert config["sasl.password"] == "s3cret" and config["security.protocol"] == "SASL_SSL"
    assert config["ssl.endpoint.identification.algorithm"] == "none"
    assert "s3cret" not in json.dumps(redact_mapping(config))
    assert "s3cret" not in repr(settings)


def test_delivery_timeout_is_capped_at_60_seconds():
    with pytest.raises(ValueError):
        KafkaSettings(delivery_timeout_s=61)


# --- publishing from several processes: how many, and how their counts add up ---


def test_a_second_publishing_process_only_for_large_dates_on_machines_with_cores_to_spare():
    from mlplatform.sinks.kafka_processes import helper_count

    assert helper_count(0, 1_000_000, 10, cores=2) == 0  # one process already keeps ~1.5 cores busy
    assert helper_count(0, 1_000_000, 10, cores=8) == 3
    assert helper_count(0, 100_000, 10, cores=8) == 0  # a helper starts in ~0.4 s: not worth it
    assert helper_count(3, 1_000, 10, cores=2) == 2  # asked for explicitly
    assert helper_count(8, 1_000_000, 2, cores=16) == 1  # never more processes than parts
    assert helper_count(1, 10_000_000, 100, cores=16) == 0


def test_the_counts_of_several_producers_add_up_and_the_first_real_failure_is_named():
    from mlplatform.sinks.kafka_processes import STOPPED, merged
    from mlplatform.sinks.kafka_producer import KafkaResult

    results = {
        "main": KafkaResult("t", produced=400, delivered=300, purged=100, reason=STOPPED),
        "kafka-publisher-1": KafkaResult("t", produced=300, delivered=290, failed=10, reason="Topic authorization "
                                         "failed", first_error="Topic authorization failed", first_failed_key="d:7"),
        "kafka-publisher-2": KafkaResult("t", produced=100, delivered=100),
    }  # fmt: skip
    total = merged(results, 1000, "t")
    assert (total.produced, total.delivered, total.failed, total.purged) == (800, 690, 10, 100)
    assert total.acknowledged == 690 and total.never_sent == 300  # 200 never handed over + 100 purged
    assert total.by_process == {"main": 400, "kafka-publisher-1": 300, "kafka-publisher-2": 100}
    line = total.error("2026-11-22").headline
    assert "(Topic authorization failed): 690 acknowledged, 10 failed, 300 never sent of 1,000" in line
    assert line.endswith("first failing key d:7")
    assert merged({"main": KafkaResult("t", produced=5, delivered=5)}, 5, "t").reason is None


def test_a_helper_that_dies_without_a_word_has_what_it_handed_over_counted_as_failed():
    from mlplatform.sinks.kafka_processes import lost_helper, merged
    from mlplatform.sinks.kafka_producer import KafkaResult

    results = {"main": KafkaResult("t", produced=3000, delivered=3000),
               "kafka-publisher-1": lost_helper("t", "kafka-publisher-1", 4000, "exited with code -9")}  # fmt: skip
    line = merged(results, 10_000, "t").error("2026-11-22").headline
    assert "(kafka-publisher-1: exited with code -9): 3,000 acknowledged, 4,000 failed, 3,000 never sent" in line


def test_a_broker_gone_mid_run_counts_each_message_once_sent_or_not():
    """librdkafka reports a purged message as still queued (never sent) or in flight (sent, fate
    unknown): neither is counted twice, so the line adds up to the date's total."""
    from mlplatform.sinks.kafka_producer import TrackedProducer
    from tests.support.fakes import FakeKafkaClients

    clients = FakeKafkaClients()
    producer = TrackedProducer(KafkaSettings(bootstrap_servers="fake:9092", topic="predictions"), "t", None, clients)
    fake = clients.producers[0]
    fake.broker_gone_after, fake.in_flight_limit = 600, 100
    producer.start("2026-11-20", 1000, None)
    producer.produce([f"k{i}" for i in range(1000)], ["{}"] * 1000)
    with pytest.raises(PipelineError) as failed:
        producer.finish()
    result = producer.result
    assert (result.acknowledged, result.unacknowledged, result.purged, result.never_sent) == (600, 100, 300, 300)
    assert "600 acknowledged, 100 failed, 300 never sent of 1,000" in failed.value.headline
