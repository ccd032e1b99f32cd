"""Kafka producer plumbing: the producer's configuration, credentials from Secrets Manager, and
a producer that accounts for every delivery of a date (`TrackedProducer`).

The producer is idempotent with acks=all. Success reports are switched off
(`delivery.report.only.error`) because a Python callback per message halves throughput; a
message that fails calls back, so after `flush()` delivered = produced - failed - still queued.
The first failure stops the run (and purges the queue) instead of waiting out every timeout.

SASL credentials can come from a Secrets Manager secret (`KAFKA_SECRET_ARN`, MSK's JSON format
`{"username": ..., "password": ...}`), read once when the producer is built; the values go to
librdkafka only, never to a log or an error message.

The produce loop is GIL-bound, so it runs in a background stage, one batch behind the reader
(whose Parquet decoding and Arrow compute release the GIL): the two overlap, and at most two
batches wait in between, so memory stays flat.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from mlplatform.clients import Clients
from mlplatform.concurrency import BackgroundStage
from mlplatform.errors import ConfigError, PipelineError
from mlplatform.redact import redact_mapping

if TYPE_CHECKING:
    from mlplatform.config.inference import KafkaSettings

log = logging.getLogger(__name__)
PASSTHROUGH_PREFIX = "KAFKA_CONFIG_"


@dataclass
class KafkaResult:
    topic: str
    total: int = 0  # predictions the committed date holds
    produced: int = 0  # handed to the producer
    delivered: int = 0
    failed: int = 0  # refused or timed out
    purged: int = 0  # handed over but dropped from our queue when the run stopped: never sent
    unacknowledged: int = 0  # sent but never acknowledged (the broker may or may not have it)
    first_error: str | None = None
    first_failed_key: str | None = None
    reason: str | None = None  # why publishing stopped, when it did
    by_process: dict[str, int] = field(default_factory=dict)  # produced, when several processes published

    @property
    def never_sent(self) -> int:
        return self.total - self.produced + self.purged

    @property
    def acknowledged(self) -> int:
        return self.produced - self.failed - self.purged - self.unacknowledged

    def error(self, run_date: str) -> PipelineError:
        """The one line that says exactly what reached the topic and what did not."""
        key = f"; first failing key {self.first_failed_key}" if self.first_failed_key else ""
        return PipelineError(
            f"Kafka publish of {run_date} to topic {self.topic!r} failed ({self.reason or 'failed'}): "
            f"{self.acknowledged:,} acknowledged, {self.failed + self.unacknowledged:,} failed, "
            f"{self.never_sent:,} never sent of {self.total:,}{key}",
            f"fix the cause, then `mlplatform publish --date {run_date}` sends the committed "
            "predictions again without re-scoring",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "produced": self.produced,
            "delivered": self.delivered,
            "failed": self.failed,
            "unacknowledged": self.unacknowledged,
            "first_error": self.first_error,
        } | ({"produced_by_process": self.by_process} if self.by_process else {})


def producer_config(settings: KafkaSettings, client_id: str) -> dict[str, Any]:
    """librdkafka settings: durable, idempotent, batched; TLS/SASL from settings, and any
    `KAFKA_CONFIG_<NAME>` variable passed through as `<name>` (underscores become dots)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.compression,
        "linger.ms": settings.linger_ms,
        "batch.size": 1_000_000,
        "batch.num.messages": 100_000,
        # Bounded queue: memory stays flat however many rows are scored.
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 131_072,
        "message.timeout.ms": int(settings.delivery_timeout_s * 1000),
        "delivery.report.only.error": True,
        "security.protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
    if settings.sasl_username:
        config["sasl.username"] = settings.sasl_username
    if settings.sasl_password is not None:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_ca_location:
        config["ssl.ca.location"] = settings.ssl_ca_location
    for name, value in os.environ.items():
        if name.startswith(PASSTHROUGH_PREFIX) and len(name) > len(PASSTHROUGH_PREFIX):
            config[name[len(PASSTHROUGH_PREFIX) :].lower().replace("_", ".")] = value
    return config


SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_SECRET_MECHANISM = "SCRAM-SHA-512"  # what MSK's Secrets Manager integration uses


def resolve_credentials(settings: KafkaSettings, clients: Clients) -> KafkaSettings:
    """Settings with the SASL username/password of the secret `secret_arn` names. The secret is
    read whatever the protocol, so a wrong ARN or a missing permission fails at start."""
    from pydantic import SecretStr

    arn = (settings.secret_arn or "").strip()
    if not arn:
        return settings
    username, password = _read_secret(arn, clients)
    if settings.security_protocol not in SASL_PROTOCOLS:
        log.warning(
            "KAFKA_SECRET_ARN is set but KAFKA_SECURITY_PROTOCOL=%s sends no credentials; set SASL_SSL to use them",
            settings.security_protocol,
        )
        return settings
    return settings.model_copy(
        update={
            "sasl_username": username,
            "sasl_password": SecretStr(password),
            "sasl_mechanism": settings.sasl_mechanism or DEFAULT_SECRET_MECHANISM,
        }
    )


def _read_secret(arn: str, clients: Clients) -> tuple[str, str]:
    text = clients.secret_string(arn, "Kafka", "KAFKA_SECRET_ARN")
    try:
        value = json.loads(text)
        return str(value["username"]), str(value["password"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"the Kafka secret {arn} is not JSON with 'username' and 'password'",
            'store it as {"username": "...", "password": "..."} (the format MSK uses)',
        ) from None


class TrackedProducer:
    """An idempotent acks=all producer for one date that accounts for every message: produced,
    acknowledged, failed, purged. `submit` hands batches to a background stage that produces
    them while the caller reads the next; `produce` produces in the calling thread."""

    def __init__(
        self, settings: KafkaSettings, client_id: str, headers: list[tuple[str, bytes]] | None, clients: Clients
    ) -> None:
        from confluent_kafka import KafkaException

        self.settings = settings
        self.client_id = client_id
        self.topic = settings.topic
        self.headers = headers
        self.run_date = "?"
        self.result = KafkaResult(topic=self.topic)
        # with the secret's credentials in place: what helper processes are given (never logged)
        self.resolved = resolve_credentials(settings, clients).model_copy(update={"secret_arn": None})
        config = producer_config(self.resolved, client_id)
        config["on_delivery"] = self._on_failed_delivery
        config["error_cb"] = self._on_error
        config["logger"] = logging.getLogger("mlplatform.kafka.librdkafka")
        log.debug("kafka producer config: %s", redact_mapping(config))
        try:
            self.producer = clients.kafka_producer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConfigError(
                f"invalid Kafka producer configuration: {exc}", "check the KAFKA_* / KAFKA_CONFIG_* variables"
            ) from None
        self._fatal: str | None = None
        self._in_flight_lost = 0  # purged while on the wire
        self._background: BackgroundStage | None = None

    def start(self, run_date: str, total: int, headers: list[tuple[str, bytes]] | None) -> None:
        """Begin publishing a date of `total` predictions (the counts in errors refer to it)."""
        self.run_date, self.headers = run_date, headers
        self.result = KafkaResult(topic=self.topic, total=total)

    def check_topic(self, timeout: float = 10.0) -> int:
        """Metadata reachable and the topic exists; returns its partition count."""
        from confluent_kafka import KafkaException

        try:
            metadata = self.producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            raise PipelineError(
                f"Kafka at {self.settings.bootstrap_servers} is unreachable ({exc.args[0].str()})",
                "check KAFKA_BOOTSTRAP_SERVERS and the security settings",
            ) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            reason = topic.error.str() if topic is not None and topic.error is not None else "not found"
            raise PipelineError(
                f"Kafka topic {self.topic!r} is not available ({reason})",
                "create the topic or fix KAFKA_TOPIC",
            )
        return len(topic.partitions)

    def _on_failed_delivery(self, error: Any, message: Any) -> None:
        if error is None:
            return
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._PURGE_QUEUE:
            self.result.purged += 1
            return
        if error.code() == KafkaError._PURGE_INFLIGHT:  # on the wire when we gave up: fate unknown
            self._in_flight_lost += 1  # counted as unacknowledged by `_halt`
            return
        self.result.failed += 1
        self._note_failure(error.str(), message.key())

    def _note_failure(self, error: str, key: bytes | str | None) -> None:
        if self.result.first_error is None:
            self.result.first_error = error
            text = key.decode(errors="replace") if isinstance(key, bytes) else key
            self.result.first_failed_key = text if text is None or len(text) <= 80 else text[:77] + "..."

    def _on_error(self, error: Any) -> None:
        if error.fatal():
            self._fatal = error.str()
        log.debug("kafka: %s", error.str())

    def submit(self, keys: list[str], values: list[str]) -> None:
        """Hand a batch to the background stage (blocks while two batches are waiting); raises
        the failure that stopped it."""
        if self._background is None:
            self._background = BackgroundStage(self.produce, depth=2, name="kafka-producer")
        self._background.submit(keys, values)

    def _close_background(self, abort: bool = False) -> None:
        background, self._background = self._background, None
        if background is not None:
            background.abort() if abort else background.close()

    def produce(self, keys: list[str], values: list[str]) -> None:
        """Produce a batch in this thread; waits for queue space, stops at the first failure."""
        from confluent_kafka import KafkaException

        topic, headers = self.topic, self.headers
        # headers=None still costs a keyword argument per call: bind it only when there are some
        produce = partial(self.producer.produce, headers=headers) if headers else self.producer.produce
        index = 0
        try:
            for index, (key, value) in enumerate(zip(keys, values, strict=True)):  # noqa: B007 - read below
                try:
                    produce(topic, value, key)
                except BufferError:
                    self._wait_for_space()
                    produce(topic, value, key)
            index = len(keys)
        except KafkaException as exc:  # refused before sending: too large, unknown topic, ...
            self._note_failure(exc.args[0].str(), keys[index])
            self._fatal = self._fatal or exc.args[0].str()
        finally:
            self.result.produced += index
        self.producer.poll(0)
        self._raise_on_failure()

    def _wait_for_space(self) -> None:
        while len(self.producer) >= 150_000:
            self.producer.poll(0.05)
            self._raise_on_failure()

    def _raise_on_failure(self) -> None:
        if self.result.failed or self._fatal:
            raise self._failure(self._fatal or self.result.first_error or "failed")

    def _failure(self, reason: str) -> PipelineError:
        """Stop (drop what is queued) and say exactly what reached the topic and what did not."""
        self._halt()
        self.result.reason = self.result.reason or reason
        return self.result.error(self.run_date)

    def finish(self) -> KafkaResult:
        """Wait for every acknowledgement; a run with any message not acknowledged fails."""
        self._close_background()
        remaining = self.producer.flush(self.settings.delivery_timeout_s + 5)
        result = self.result
        if result.failed or remaining or self._fatal:
            timeout = f"not acknowledged within {self.settings.delivery_timeout_s:g}s"
            raise self._failure(self._fatal or result.first_error or timeout)
        result.delivered = result.acknowledged
        return result

    def _halt(self) -> None:
        """Purge what is left: each message is reported once, as never sent (still in our queue)
        or unacknowledged (in flight), so the counts add up to what was produced."""
        self.producer.purge()
        self.producer.flush(1)  # serves the purge reports
        # in flight when purged, and reports not served yet: fate unknown either way
        self.result.unacknowledged = self._in_flight_lost + len(self.producer)
        self.result.delivered = self.result.acknowledged

    def stop(self, reason: str) -> KafkaResult:
        """Give up on what is not sent yet (another process failed): the counts as they stand."""
        self.abort()
        result = self.result
        result.reason = result.reason or reason
        return result

    def abort(self) -> None:
        """Drop whatever is still queued so a failing run ends now, not after every timeout."""
        self._close_background(abort=True)
        self._halt()
