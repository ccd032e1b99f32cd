"""Publishing a committed date: after the commit of a scoring run, and again on its own from the
committed files (`mlplatform publish --date D`, after a failed publish) without re-scoring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.errors import ConfigError, DataError
from mlplatform.flows.date_runs import date_run
from mlplatform.flows.progress import LogReporter, StepReporter
from mlplatform.layout import date_folder
from mlplatform.sinks import Publisher, SinkResult, build_sinks
from mlplatform.sinks.committed import CommittedOutput, read_published, write_published


def publish_committed(
    clients: Clients, output_uri: str, publishers: Sequence[Publisher], progress: StepReporter
) -> dict[str, SinkResult]:
    """Send the committed date with every publisher, then record it in `_PUBLISHED`. Only the
    parts of the committed run are sent, each checked against its SHA-256 first."""
    output = CommittedOutput.load(clients, output_uri)
    if output is None:
        raise DataError(f"{output_uri} has no committed output (_SUCCESS)", "score the date first")
    with progress.step("Verify committed parts"):
        output.verify()
    results = {}
    for publisher in publishers:
        with progress.bar(f"Publish to {publisher.preflight or publisher.name}", output.rows) as advance:
            results[publisher.name] = publisher.publish(output, advance)
    record = {"inference_run_id": output.run_id, "published_at": datetime.now(UTC).isoformat(timespec="seconds")}
    write_published(clients, output_uri, record | {name: result.section for name, result in results.items()})
    return results


@dataclass(frozen=True)
class PublishOutcome:
    logical_date: str
    output_uri: str
    inference_run_id: str
    results: dict[str, SinkResult]  # empty when the date had been published already


def run_publish(
    settings: Settings,
    logical_date: str,
    progress: StepReporter | None = None,
    clients: Clients | None = None,
    force: bool = False,
    publishers: Sequence[Publisher] | None = None,
) -> PublishOutcome:
    """Publish a committed date again from its files: no re-scoring. A date whose committed run
    is already published is left alone unless `force`."""
    progress = progress or LogReporter()
    clients = clients or Clients()
    if publishers is None:
        publishers = [sink for sink in build_sinks(settings, clients) if isinstance(sink, Publisher)]
    if not publishers:
        raise ConfigError("no publisher is configured", "set KAFKA_BOOTSTRAP_SERVERS (and KAFKA_TOPIC)")
    folder = date_folder(
        settings.data_root, settings.project, settings.model_name, logical_date, shard=settings.inference.shard
    )
    with date_run(settings, logical_date):
        output = CommittedOutput.load(clients, folder)
        if output is None:
            raise DataError(
                f"{folder} has no committed output (_SUCCESS)",
                f"score the date first: mlplatform score --date {logical_date}",
            )
        published = read_published(clients, folder) or {}
        if published.get("inference_run_id") == output.run_id and not force:
            return PublishOutcome(logical_date, folder, output.run_id, {})
        for publisher in publishers:
            if publisher.preflight:
                with progress.step(f"Connect to {publisher.preflight}"):
                    publisher.check()
        results = publish_committed(clients, folder, publishers, progress)
        return PublishOutcome(logical_date, folder, output.run_id, results)
