"""Kafka SASL credentials from Secrets Manager (KAFKA_SECRET_ARN), against moto in server mode:
read once at start, handed to librdkafka, never logged or put in an error message."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from mlplatform.clients import Clients
from mlplatform.config.inference import KafkaSettings
from mlplatform.errors import ConfigError, PipelineError
from mlplatform.redact import redact_mapping
from mlplatform.sinks.kafka_producer import producer_config, resolve_credentials

PASSWORD = "pw-" + uuid.uuid4().hex


@pytest.fixture
def secret(s3_bucket) -> str:  # s3_bucket points every AWS client at the moto server
    created = (
        Clients()
        .boto3("secretsmanager")
        .create_secret(
            Name=f"AmazonMSK_{uuid.uuid4().hex[:8]}",
            SecretString=json.dumps({"username": "scorer", "password": PASSWORD}),
        )
    )
    return created["ARN"]


def test_the_secret_becomes_sasl_credentials(secret, caplog):
    caplog.set_level(logging.DEBUG)
    settings = KafkaSettings(bootstrap_servers="b-1.msk:9096", security_protocol="SASL_SSL", secret_arn=secret)
    resolved = resolve_credentials(settings, Clients())
    config = producer_config(resolved, "test")
    assert config["sasl.username"] == "scorer"
    assert config["sasl.password"] == PASSWORD
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"  # MSK's; KAFKA_SASL_MECHANISM overrides it
    assert redact_mapping(config)["sasl.password"] == "***"
    assert PASSWORD not in repr(resolved) and PASSWORD not in caplog.text


def test_a_given_mechanism_is_kept(secret):
    settings = KafkaSettings(bootstrap_servers="b:9096", security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                             secret_arn=secret)  # fmt: skip
    assert producer_config(resolve_credentials(settings, Clients()), "t")["sasl.mechanism"] == "PLAIN"


def test_without_sasl_the_secret_is_still_read_but_not_sent(secret, caplog):
    settings = KafkaSettings(bootstrap_servers="b:9092", secret_arn=secret)
    assert "sasl.username" not in producer_config(resolve_credentials(settings, Clients()), "t")
    assert "sends no credentials; set SASL_SSL" in caplog.text
    with pytest.raises(ConfigError, match="does not exist"):  # a wrong ARN fails at start all the same
        resolve_credentials(settings.model_copy(update={"secret_arn": secret + "-typo"}), Clients())


def test_a_malformed_secret_is_a_clear_error_without_its_value(s3_bucket):
    arn = Clients().boto3("secretsmanager").create_secret(Name="bad-" + uuid.uuid4().hex[:8],
                                                          SecretString=f"scorer:{PASSWORD}")["ARN"]  # fmt: skip
    settings = KafkaSettings(bootstrap_servers="b:9096", security_protocol="SASL_SSL", secret_arn=arn)
    with pytest.raises(ConfigError) as error:
        resolve_credentials(settings, Clients())
    assert "is not JSON with 'username' and 'password'" in error.value.headline
    assert PASSWORD not in str(error.value)


def test_an_unreachable_secrets_manager_is_a_pipeline_failure(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = KafkaSettings(bootstrap_servers="b:9096", security_protocol="SASL_SSL",
                             secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:x")  # fmt: skip
    clients = Clients()
    import boto3
    from botocore.config import Config

    clients._boto3["secretsmanager"] = boto3.client(
        "secretsmanager", region_name="us-east-1", config=Config(retries={"max_attempts": 1}, connect_timeout=1)
    )
    with pytest.raises(PipelineError, match="cannot reach Secrets Manager"):
        resolve_credentials(settings, clients)
