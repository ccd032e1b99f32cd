"""Publish one message per prediction of a committed date to Kafka; account for every delivery.

Publishing starts after the date's files are committed and reads them back, so a run that fails
validation publishes nothing and a failed publish resumes without re-scoring (same keys, same
values: consumers see duplicates, never a different prediction).

The producer is idempotent with acks=all. Success reports are switched off
(`delivery.report.only.error`) because a Python callback per message halves throughput; a
message that fails calls back, so after `flush()` delivered = produced - failed - still queued.
The first failure stops the run (and purges the queue) instead of waiting out every timeout.

SASL credentials can come from a Secrets Manager secret (`KAFKA_SECRET_ARN`, MSK's JSON format
`{"username": ..., "password": ...}`), read once when the producer is built; the values go to
librdkafka only, never to a log or an error message.

The produce loop is GIL-bound, so it runs in a thread of its own, one batch behind the reader
(whose Parquet decoding and Arrow compute release the GIL): the two overlap. The hand-off queue
holds at most two batches, so memory stays flat.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from mlplatform.clients import Clients
from mlplatform.errors import ConfigError, PipelineError
from mlplatform.sinks.base import Publisher, SinkResult

if TYPE_CHECKING:
    from mlplatform.config.settings import KafkaSettings
    from mlplatform.sinks.files import CommittedOutput

log = logging.getLogger(__name__)
PASSTHROUGH_PREFIX = "KAFKA_CONFIG_"


@dataclass
class KafkaResult:
    topic: str
    total: int = 0  # predictions the committed date holds
    produced: int = 0  # handed to the producer
    delivered: int = 0
    failed: int = 0  # refused or timed out
    purged: int = 0  # handed over but dropped by us when the run stopped
    unacknowledged: int = 0
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


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """A config safe to log: anything that looks like a secret is masked."""
    secret_words = ("password", "secret", "key", "token", "credentials")
    return {k: "***" if any(w in k for w in secret_words) else v for k, v in config.items()}


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
    from botocore.exceptions import BotoCoreError, ClientError

    quiet = logging.getLogger("botocore")
    level = quiet.level
    quiet.setLevel(max(quiet.getEffectiveLevel(), logging.INFO))  # botocore's DEBUG logs response bodies
    try:
        text = clients.boto3("secretsmanager").get_secret_value(SecretId=arn).get("SecretString") or ""
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise ConfigError(f"the Kafka secret {arn} does not exist", "fix KAFKA_SECRET_ARN") from None
        raise PipelineError(
            f"cannot read the Kafka secret {arn} ({code or 'error'})",
            "grant secretsmanager:GetSecretValue on it to the job's role (Terraform: kafka_secret_arn)",
        ) from None
    except BotoCoreError as exc:
        raise PipelineError(f"cannot reach Secrets Manager for {arn} ({type(exc).__name__})", "retry") from None
    finally:
        quiet.setLevel(level)
    try:
        value = json.loads(text)
        return str(value["username"]), str(value["password"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"the Kafka secret {arn} is not JSON with 'username' and 'password'",
            'store it as {"username": "...", "password": "..."} (the format MSK uses)',
        ) from None


class KafkaPublisher:
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
        log.debug("kafka producer config: %s", redacted(config))
        try:
            self.producer = clients.kafka_producer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConfigError(
                f"invalid Kafka producer configuration: {exc}", "check the KAFKA_* / KAFKA_CONFIG_* variables"
            ) from None
        self._fatal: str | None = None
        self._pending: queue.Queue[tuple[list[str], list[str]] | None] = queue.Queue(maxsize=2)
        self._worker: threading.Thread | None = None
        self._worker_error: BaseException | None = None

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

        if error.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
            self.result.purged += 1
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
        """Hand a batch to the publishing thread (blocks while two batches are waiting)."""
        self._raise_worker_error()
        if self._worker is None:
            self._worker = threading.Thread(target=self._drain, name="kafka-publisher", daemon=True)
            self._worker.start()
        while True:
            try:
                self._pending.put((keys, values), timeout=0.5)
                return
            except queue.Full:
                self._raise_worker_error()

    def _drain(self) -> None:
        while (item := self._pending.get()) is not None:
            if self._worker_error is not None:
                continue  # a failure stops production; keep draining so submit() never blocks
            try:
                self.publish(*item)
            except BaseException as exc:  # noqa: BLE001 - handed to the submitting thread
                self._worker_error = exc

    def _raise_worker_error(self) -> None:
        if self._worker_error is not None:
            raise self._worker_error

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._pending.put(None)
            self._worker.join()
            self._worker = None

    def publish(self, keys: list[str], values: list[str]) -> None:
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
        self._stop_worker()
        self._raise_worker_error()
        remaining = self.producer.flush(self.settings.delivery_timeout_s + 5)
        result = self.result
        result.unacknowledged = remaining
        result.delivered = result.produced - result.failed - result.purged - remaining
        if result.failed or remaining or self._fatal:
            timeout = f"not acknowledged within {self.settings.delivery_timeout_s:g}s"
            raise self._failure(self._fatal or result.first_error or timeout)
        return result

    def _halt(self) -> None:
        self.producer.purge()
        self.producer.flush(1)  # serves the purge reports, so the counts add up

    def stop(self, reason: str) -> KafkaResult:
        """Give up on what is not sent yet (another process failed): the counts as they stand."""
        self.abort()
        result = self.result
        result.unacknowledged = len(self.producer)
        result.delivered = result.acknowledged
        result.reason = result.reason or reason
        return result

    def abort(self) -> None:
        """Drop whatever is still queued so a failing run ends now, not after every timeout."""
        if self._worker is not None and threading.current_thread() is not self._worker:
            self._worker_error = self._worker_error or PipelineError("Kafka publishing was aborted")
            self._stop_worker()
        self._halt()


class KafkaSink(Publisher):
    """One JSON message per prediction, keyed by prediction id, every delivery accounted for."""

    name = "kafka"

    def __init__(self, settings: KafkaSettings, clients: Clients, client_id: str) -> None:
        self.settings = settings
        self.clients = clients
        self.client_id = client_id
        self.publisher: KafkaPublisher | None = None
        self.preflight = f"Kafka topic {settings.topic}"

    def check(self) -> str:
        if self.publisher is None:
            self.publisher = KafkaPublisher(self.settings, self.client_id, [], self.clients)
        partitions = self.publisher.check_topic()
        return f"topic {self.settings.topic!r} on {self.settings.bootstrap_servers}: {partitions} partitions"

    def publish(self, output: CommittedOutput, advance: Callable[[int], None]) -> SinkResult:
        """Every message of the committed date, from this process alone or with helper processes
        (`processes`; see kafka_processes)."""
        from mlplatform.sinks.kafka_processes import helper_count, publish_with_helpers

        if self.publisher is None:
            self.check()
        publisher = self._connected()
        headers = output.stamp.header_pairs() if self.settings.headers else None
        publisher.start(output.run_date, output.rows, headers)
        helpers = helper_count(self.settings.processes, output.rows, output.part_count)
        try:
            if helpers:
                result = publish_with_helpers(publisher, output, helpers, advance)
            else:
                for keys, values in output.messages():
                    publisher.submit(keys, values)
                    advance(len(keys))
                result = publisher.finish()
        except BaseException:
            publisher.abort()
            raise
        return SinkResult(
            self.name,
            result.as_dict(),
            f"{result.delivered:,} of {result.total:,} acknowledged on {result.topic}",
            {"kafka_produced": result.produced, "kafka_delivered": result.delivered, "kafka_failed": result.failed},
        )

    def _connected(self) -> KafkaPublisher:
        if self.publisher is None:
            raise RuntimeError("KafkaSink.check() was not called")
        return self.publisher
