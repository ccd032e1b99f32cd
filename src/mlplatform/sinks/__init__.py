"""Where predictions go. Every store implements `base.Sink` (written while scoring, committed at
the end); every publisher implements `base.Publisher` (sends a committed date). `build_sinks` is
the one place that decides which a run has. A new one is a module here, a line below and its
settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.clients import Clients
from mlplatform.sinks.base import PredictionBatch, Publisher, Sink, SinkResult

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings


def build_sinks(settings: Settings, clients: Clients, variant: str | None = None) -> list[Sink | Publisher]:
    """The stores and publishers a run with these settings writes to (storage first). A shadow
    `variant` (the challenger) gets its own folder and, only when `inference.shadow_topic` is set,
    its own topic: never the predictions topic, never the database."""
    from mlplatform.sinks.files import FileSink
    from mlplatform.sinks.kafka import KafkaPublisher
    from mlplatform.sinks.postgres import PostgresSink

    inference = settings.inference
    sinks: list[Sink | Publisher] = [
        FileSink(
            clients,
            settings.data_root,
            settings.project,
            settings.model_name,
            inference.output_format,
            inference.shard,
            variant,
        )
    ]
    client_id = f"mlplatform-{settings.project}"
    if variant is not None:
        if inference.shadow_topic and inference.kafka.enabled:
            shadow = inference.kafka.model_copy(update={"topic": inference.shadow_topic})
            sinks.append(KafkaPublisher(shadow, clients, client_id))
        return sinks
    if inference.postgres.enabled:
        sinks.append(PostgresSink(inference.postgres, clients, inference.shard))
    if inference.kafka.enabled:
        sinks.append(KafkaPublisher(inference.kafka, clients, client_id))
    return sinks


__all__ = ["PredictionBatch", "Publisher", "Sink", "SinkResult", "build_sinks"]
