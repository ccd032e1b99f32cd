"""Events from the flows: `emit` records one in the state directory's log and delivers what is
pending to the configured channels. Recording or delivering never fails the pipeline."""

from __future__ import annotations

import logging
from typing import Any

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.events.channels import Channel, KafkaChannel, SnsChannel, WebhookChannel
from mlplatform.events.log import EventLog
from mlplatform.events.model import Event
from mlplatform.events.outbox import ChannelStatus, deliver_pending, status_of

log = logging.getLogger(__name__)


def emit(
    settings: Settings,
    event_type: str,
    *,
    model: str,
    version: str | None = None,
    date: str | None = None,
    details: dict[str, Any] | None = None,
    clients: Clients | None = None,
) -> Event | None:
    """Record the event and deliver the outbox; a failure is a warning, never an error."""
    try:
        event = Event(event_type, model, version, date, details or {})
        EventLog(settings.state_dir).append(event)
    except Exception as exc:  # noqa: BLE001 - events must not fail the pipeline that emits them
        log.warning("event %s of %s not recorded: %s", event_type, model, exc)
        return None
    deliver(settings, clients, at_emit=True)
    return event


def channels_for(settings: Settings, clients: Clients, at_emit: bool = False) -> list[Channel]:
    """The configured channels; at a pipeline's emit, a channel that is failing gets one attempt."""
    events = settings.events
    found: list[Channel] = []
    history = EventLog(settings.state_dir)
    if events.webhook_url:
        retries = 0 if at_emit and history.cursor("webhook").failures else events.retries
        found.append(WebhookChannel(events.webhook_url, _webhook_secret(settings, clients), events.timeout_s, retries))
    if events.kafka_topic:
        if not settings.inference.kafka.bootstrap_servers:
            log.warning("events.kafka_topic is set but KAFKA_BOOTSTRAP_SERVERS is not: no Kafka events")
        else:
            from mlplatform.sinks.kafka_producer import producer_config

            config = producer_config(settings.inference.kafka, f"mlplatform-events-{settings.project}")
            found.append(KafkaChannel(config, events.kafka_topic, clients, events.timeout_s))
    if events.sns_topic_arn:
        found.append(SnsChannel(events.sns_topic_arn, clients))
    return found


def deliver(settings: Settings, clients: Clients | None = None, at_emit: bool = False) -> list[ChannelStatus]:
    try:
        channels = channels_for(settings, clients or Clients(), at_emit)
        return deliver_pending(EventLog(settings.state_dir), channels) if channels else []
    except Exception as exc:  # noqa: BLE001 - events must not fail the pipeline that emits them
        log.warning("event delivery failed (the events stay in the outbox): %s", exc)
        return []


def statuses(settings: Settings) -> list[ChannelStatus]:
    """How far behind each configured channel is (for `mlplatform check`)."""
    names = [
        name
        for name, on in (
            ("webhook", settings.events.webhook_url),
            ("kafka", settings.events.kafka_topic),
            ("sns", settings.events.sns_topic_arn),
        )
        if on
    ]
    history = EventLog(settings.state_dir)
    return [status_of(history, name) for name in names]


def _webhook_secret(settings: Settings, clients: Clients) -> bytes | None:
    events = settings.events
    if events.webhook_secret is not None:
        return events.webhook_secret.get_secret_value().encode()
    if events.webhook_secret_arn:
        return clients.secret_string(
            events.webhook_secret_arn, "webhook", "MLPLATFORM_EVENTS__WEBHOOK_SECRET_ARN"
        ).encode()
    return None
