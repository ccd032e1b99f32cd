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


def build_sinks(settings: Settings, clients: Clients) -> list[Sink | Publisher]:
    """The stores and publishers a run with these settings writes to (storage first)."""
    from mlplatform.sinks.files import FileSink
    from mlplatform.sinks.kafka import KafkaPublisher
    from mlplatform.sinks.postgres import PostgresSink

    inference = settings.inference
    sinks: list[Sink | Publisher] = [
        FileSink(
            clients, settings.data_root, settings.project, settings.model_name, inference.output_format, inference.shard
        )
    ]
    if inference.postgres.enabled:
        sinks.append(PostgresSink(inference.postgres, clients, inference.shard))
    if inference.kafka.enabled:
        sinks.append(KafkaPublisher(inference.kafka, clients, f"mlplatform-{settings.project}"))
    return sinks


__all__ = ["PredictionBatch", "Publisher", "Sink", "SinkResult", "build_sinks"]
