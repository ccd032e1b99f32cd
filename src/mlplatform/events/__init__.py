"""Events out: one JSON event for each thing that happens, written to an append-only log in the
state directory (the outbox) and delivered from it to every configured channel — a Kafka topic,
an HTTP webhook signed with HMAC-SHA256, an SNS topic. Delivery never fails a pipeline: what
could not be delivered stays in the log and is sent again by the next delivery (`check` shows
how far each channel is behind)."""

from mlplatform.events.model import EVENT_TYPES, Event

__all__ = ["EVENT_TYPES", "Event"]
