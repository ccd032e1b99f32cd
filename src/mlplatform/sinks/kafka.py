"""Publish one message per prediction of a committed date to Kafka; account for every delivery.

Publishing starts after the date's files are committed and reads them back, so a run that fails
validation publishes nothing and a failed publish resumes without re-scoring (same keys, same
values: consumers see duplicates, never a different prediction). The producer and its
accounting are in `kafka_producer`; publishing from several processes in `kafka_processes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlplatform.clients import Clients
from mlplatform.sinks.base import Publisher, SinkResult
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.kafka_processes import helper_count, publish_with_helpers
from mlplatform.sinks.kafka_producer import TrackedProducer

if TYPE_CHECKING:
    from mlplatform.config.inference import KafkaSettings


class KafkaPublisher(Publisher):
    """One JSON message per prediction, keyed by prediction id, every delivery accounted for."""

    name = "kafka"

    def __init__(self, settings: KafkaSettings, clients: Clients, client_id: str) -> None:
        self.settings = settings
        self.clients = clients
        self.client_id = client_id
        self.producer: TrackedProducer | None = None
        self.preflight = f"Kafka topic {settings.topic}"

    def check(self) -> str:
        partitions = self._producer().check_topic()
        return f"topic {self.settings.topic!r} on {self.settings.bootstrap_servers}: {partitions} partitions"

    def publish(self, output: CommittedOutput, advance: Callable[[int], None]) -> SinkResult:
        """Every message of the committed date, from this process alone or with helper processes
        (`inference.kafka.processes`; see kafka_processes)."""
        producer = self._producer()
        headers = output.stamp.header_pairs() if self.settings.headers else None
        producer.start(output.run_date, output.rows, headers)
        helpers = helper_count(self.settings.processes, output.rows, output.part_count)
        try:
            if helpers:
                result = publish_with_helpers(producer, output, helpers, advance)
            else:
                for keys, values in output.messages():
                    producer.submit(keys, values)
                    advance(len(keys))
                result = producer.finish()
        except BaseException:
            producer.abort()
            raise
        return SinkResult(
            self.name,
            result.as_dict(),
            f"{result.delivered:,} of {result.total:,} acknowledged on {result.topic}",
            {"kafka_produced": result.produced, "kafka_delivered": result.delivered, "kafka_failed": result.failed},
        )

    def _producer(self) -> TrackedProducer:
        if self.producer is None:
            self.producer = TrackedProducer(self.settings, self.client_id, [], self.clients)
        return self.producer
