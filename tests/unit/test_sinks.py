"""Sinks without servers: the local date writer, and the Kafka producer configuration."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from mlplatform.clients import Clients
from mlplatform.config.settings import KafkaSettings
from mlplatform.sinks.files import DatePartitionWriter, read_manifest, serialise
from mlplatform.sinks.kafka import producer_config, redacted

CLIENTS = Clients()


def part(rows: int) -> bytes:
    return serialise(pa.table({"x": list(range(rows))}), "parquet")


def test_commit_replaces_the_date_and_abort_keeps_it(tmp_path):
    root = str(tmp_path)
    first = DatePartitionWriter(CLIENTS, f"{root}/p/inference-output/date=2026-11-01", "parquet", "run1")
    first.write_part(part(3), 3)
    first.commit({"rows": 3})
    assert read_manifest(CLIENTS, f"{root}/p/inference-output/date=2026-11-01")["rows"] == 3

    second = DatePartitionWriter(CLIENTS, f"{root}/p/inference-output/date=2026-11-01", "parquet", "run2")
    second.write_part(part(5), 5)
    second.write_part(part(5), 5)
    folder = tmp_path / "p/inference-output/date=2026-11-01"
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-00000.parquet"]  # not yet visible
    second.abort()
    assert read_manifest(CLIENTS, f"{root}/p/inference-output/date=2026-11-01")["rows"] == 3

    third = DatePartitionWriter(CLIENTS, f"{root}/p/inference-output/date=2026-11-01", "parquet", "run3")
    third.write_part(part(5), 5)
    third.write_part(part(5), 5)
    third.commit({"rows": 10})
    manifest = json.loads((folder / "_SUCCESS").read_text())
    assert manifest["rows"] == 10 and [p["rows"] for p in manifest["parts"]] == [5, 5]
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "part-00000.parquet", "part-00001.parquet"]
    assert not (tmp_path / "p/inference-output/_staging").exists()


def test_leftover_staging_of_a_killed_run_is_cleared(tmp_path):
    killed = DatePartitionWriter(CLIENTS, f"{tmp_path}/p/inference-output/date=2026-11-01", "parquet", "dead")
    killed.write_part(part(1), 1)
    fresh = DatePartitionWriter(CLIENTS, f"{tmp_path}/p/inference-output/date=2026-11-01", "parquet", "new")
    fresh.commit({"rows": 0})
    assert not (tmp_path / "p/inference-output/_staging").exists()


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
    assert "s3cret" not in json.dumps(redacted(config))
    assert "s3cret" not in repr(settings)


def test_delivery_timeout_is_capped_at_60_seconds():
    with pytest.raises(ValueError):
        KafkaSettings(delivery_timeout_s=61)
