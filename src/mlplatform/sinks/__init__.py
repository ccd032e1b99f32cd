"""Where predictions go. Every sink implements `base.Sink`; `build_sinks` is the one place that
decides which sinks a run has. A new sink is a module here, a line below and its settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlplatform.clients import Clients
from mlplatform.sinks.base import PredictionBatch, Sink, SinkResult

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings


def build_sinks(settings: Settings, clients: Clients) -> list[Sink]:
    """The sinks a run with these settings writes to."""
    from mlplatform.sinks.files import FileSink
    from mlplatform.sinks.kafka import KafkaSink

    inference = settings.inference
    sinks: list[Sink] = [
        FileSink(
            clients, settings.data_root, settings.project, settings.model_name, inference.output_format, inference.shard
        )
    ]
    if inference.kafka.enabled:
        sinks.append(KafkaSink(inference.kafka, clients, f"mlplatform-{settings.project}"))
    return sinks


__all__ = ["PredictionBatch", "Sink", "SinkResult", "build_sinks"]
