"""Where events are delivered: a Kafka topic, an HTTP webhook, an SNS topic. Each `send` either
delivers every event it is given or raises (the outbox keeps what was not delivered)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any, Protocol

from mlplatform.clients import Clients, aws_error, aws_error_types
from mlplatform.events.model import Event

SIGNATURE_HEADER = "X-Mlplatform-Signature"


class DeliveryError(Exception):
    """A channel could not deliver (after its retries)."""


class Channel(Protocol):
    name: str

    def send(self, events: Sequence[Event]) -> None: ...


def signature(secret: bytes, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the request body (GitHub's and MLflow's webhook scheme)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """One JSON POST per event, signed; retried with exponential backoff on errors and 5xx."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes | None, timeout_s: float, retries: int, sleep: Any = time.sleep):
        self.url, self.secret, self.timeout_s, self.retries, self.sleep = url, secret, timeout_s, retries, sleep

    def send(self, events: Sequence[Event]) -> None:
        for event in events:
            self._post(event.to_json().encode())

    def _post(self, body: bytes) -> None:
        import requests

        headers = {"Content-Type": "application/json", "User-Agent": "mlplatform"}
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(0.5 * 2 ** (attempt - 1), 10))
            try:
                response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout_s)
            except requests.RequestException as exc:
                problem = type(exc).__name__
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in (408, 429):
                break  # the receiver refuses it: retrying will not help
        raise DeliveryError(f"webhook {self.url} did not accept the event ({problem})")


class KafkaChannel:
    """Events to a Kafka topic, keyed by model, acknowledged before `send` returns."""

    name = "kafka"

    def __init__(self, config: dict[str, Any], topic: str, clients: Clients, timeout_s: float) -> None:
        self.config, self.topic, self.clients, self.timeout_s = config, topic, clients, timeout_s

    def send(self, events: Sequence[Event]) -> None:
        failures: list[str] = []

        def delivered(error: Any, _: Any) -> None:
            if error is not None:
                failures.append(error.str())

        producer = self.clients.kafka_producer(self.config | {"on_delivery": delivered})
        for event in events:
            producer.produce(self.topic, event.to_json(), event.model)
        remaining = producer.flush(self.timeout_s)
        if failures or remaining:
            reason = failures[0] if failures else f"{remaining} not acknowledged within {self.timeout_s:g}s"
            raise DeliveryError(f"Kafka topic {self.topic!r}: {reason}")


class SnsChannel:
    """Events to an SNS topic; the event type is a message attribute subscribers can filter on."""

    name = "sns"

    def __init__(self, topic_arn: str, clients: Clients) -> None:
        self.topic_arn, self.clients = topic_arn, clients

    def send(self, events: Sequence[Event]) -> None:
        sns = self.clients.boto3("sns")
        for event in events:
            try:
                sns.publish(
                    TopicArn=self.topic_arn,
                    Message=event.to_json(),
                    Subject=f"mlplatform {event.type} {event.model}"[:100],
                    MessageAttributes={"type": {"DataType": "String", "StringValue": event.type}},
                )
            except aws_error_types() as exc:
                failure = aws_error(exc)
                raise DeliveryError(f"SNS {self.topic_arn}: {failure.code if failure else exc}") from None
