"""The daily inference flow, as its stages:

    resolve model -> open input -> (compile) -> connect sinks -> sweep abandoned runs
        -> score batches into the stores -> finish + record the run -> drift verdict
        -> commit (the `_SUCCESS` manifest last) -> publish the committed date -> outcome

Order matters for "nothing half-written, nothing half-published": the model and the input
columns are checked before anything is written; stores finish before the run is logged and the
drift verdict taken, and only then commit. Publishers read the committed files back, so a run
that fails before the commit has published nothing, and a failed publish is resumed from the
files (`flows.publish`) without re-scoring.

The adapters are passed in (the CLI builds them once); tests pass in-memory fakes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mlplatform import __version__
from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.loading import FeatureStream
from mlplatform.errors import MLPlatformError, ModelNotFoundError
from mlplatform.flows.date_runs import date_run, sweep_abandoned
from mlplatform.flows.events import emit
from mlplatform.flows.progress import LogReporter, StepReporter
from mlplatform.flows.publish import publish_committed
from mlplatform.flows.scoring_batches import score_batches
from mlplatform.flows.scoring_commit import check_drift, check_not_empty, commit_stores, finish_and_record, manifest
from mlplatform.flows.scoring_input import compiled_if_worth_it, open_input, resolve_model
from mlplatform.flows.setup import open_mlflow
from mlplatform.layout import CHAMPION
from mlplatform.registry.mlflow import Mlflow, ResolvedModel, RunLogger
from mlplatform.scoring.drift import DriftReport
from mlplatform.scoring.messages import RunStamp
from mlplatform.scoring.summary import RunCounts
from mlplatform.sinks import Publisher, Sink, SinkResult, build_sinks

log = logging.getLogger(__name__)

STORAGE = "storage"  # FileSink's name: its section holds the output URI


@dataclass(frozen=True)
class ScoringOutcome:
    run_id: str
    logical_date: str
    model: str
    model_version: str | None
    rows: int
    bad_rows: int
    seconds: float
    sinks: dict[str, SinkResult]
    drift: DriftReport | None
    class_counts: dict[str, int]  # classification
    prediction_stats: dict[str, float]  # regression: mean, min, max of the predicted values
    source: str
    variant: str = CHAMPION
    estimates: dict[str, float] = field(default_factory=dict)  # label-free: expected accuracy, macro F1
    shadow: ShadowOutcome | None = None

    @property
    def rows_per_second(self) -> float:
        """End to end: from resolving the model to the last acknowledged message."""
        return self.rows / max(self.seconds, 1e-9)

    @property
    def output_uri(self) -> str:
        return str(self.sinks[STORAGE].section["uri"])

    def section(self, sink: str) -> dict[str, Any] | None:
        result = self.sinks.get(sink)
        return result.section if result is not None else None


def run_scoring(
    settings: Settings,
    logical_date: str,
    progress: StepReporter | None = None,
    clients: Clients | None = None,
    sinks: Sequence[Sink | Publisher] | None = None,
    mlflow: Mlflow | None = None,
) -> ScoringOutcome:
    """Score the date's input with the settings' model into `sinks` (default: `build_sinks`), then,
    with `inference.shadow`, with the challenger into its own variant. One run per model, date
    (and shard) at a time in a state directory (`date_runs`)."""
    with date_run(settings, logical_date):
        progress = progress or LogReporter()
        clients = clients or Clients()
        mlflow = mlflow or open_mlflow(settings)
        scoring = _Scoring(settings, logical_date, progress, clients, mlflow)
        try:
            outcome = scoring.score(settings.model_uri, CHAMPION, sinks)
        except Exception as exc:
            scoring.failed(CHAMPION, exc)
            raise
        scoring.committed(outcome)
        if settings.inference.shadow:
            outcome = replace(outcome, shadow=scoring.shadow())
    return outcome


@dataclass(frozen=True)
class ShadowOutcome:
    """The challenger's run beside the champion's: its outcome, or why there is none."""

    outcome: ScoringOutcome | None = None
    skipped: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Scoring:
    settings: Settings
    logical_date: str
    progress: StepReporter
    clients: Clients
    mlflow: Mlflow

    def score(self, model_uri: str, variant: str, sinks: Sequence[Sink | Publisher] | None) -> ScoringOutcome:
        settings, logical_date, progress, clients = self.settings, self.logical_date, self.progress, self.clients
        started = time.perf_counter()
        model = resolve_model(self.mlflow, settings, progress, model_uri)
        with progress.step("Open input"):
            stream = open_input(settings, model, logical_date, clients)
        model = compiled_if_worth_it(settings, model, stream, clients, progress)
        if sinks is None:
            sinks = build_sinks(settings, clients, None if variant == CHAMPION else variant)
        stores, publishers = _connect(list(sinks), progress)
        sweep_abandoned(settings, logical_date, stores)
        name, tags = f"score-{logical_date}", _tags(settings, model, logical_date, variant)
        with self.mlflow.tracking.run(settings.inference_experiment, name, tags) as run:
            run.log_params(_run_params(settings, model, stream, logical_date, publishers))
            scored_at = datetime.now(UTC).isoformat(timespec="seconds")
            stamp = RunStamp(
                logical_date,
                run.run_id,
                model.name or settings.model_name,
                model.version or "",
                model.uri,
                scored_at,
                None if variant == CHAMPION else variant,
            )
            staged = _Staged(settings, model, stream, stamp, stores, publishers, progress, started)
            counts, results, drift = staged.score_and_commit(run, self.mlflow.tracking_uri)
            output_uri = str(results[STORAGE].section["uri"])
            run.set_tags({"output_uri": output_uri})
            if publishers:
                results |= _publish(run, clients, output_uri, publishers, progress)
        return ScoringOutcome(
            run_id=run.run_id,
            logical_date=logical_date,
            model=model.label,
            model_version=model.version,
            rows=counts.rows,
            bad_rows=counts.bad_rows,
            seconds=time.perf_counter() - started,
            sinks=results,
            drift=drift,
            class_counts=counts.class_counts(),
            prediction_stats=counts.prediction_stats(),
            source=stream.source,
            variant=variant,
            estimates=counts.estimates(),
        )

    def shadow(self) -> ShadowOutcome:
        """The challenger on the same input; its failure is logged and counted, never raised."""
        alias = self.settings.promotion.challenger_alias
        uri = f"models:/{self.settings.model_name}@{alias}"
        try:
            outcome = self.score(uri, alias, None)
        except ModelNotFoundError as exc:
            log.info("no shadow scoring: %s", exc.headline)
            return ShadowOutcome(skipped=exc.headline)
        except Exception as exc:  # noqa: BLE001 - the shadow part fails alone
            log.warning("shadow scoring with %s failed (the champion's output stands): %s", uri, exc)
            self.failed(alias, exc)
            return ShadowOutcome(error=str(exc))
        self.committed(outcome)
        return ShadowOutcome(outcome)

    def committed(self, outcome: ScoringOutcome) -> None:
        details: dict[str, Any] = {"variant": outcome.variant, "rows": outcome.rows, "bad_rows": outcome.bad_rows}
        details |= {"output_uri": outcome.output_uri, "inference_run_id": outcome.run_id}
        date, name, version = self.logical_date, self.settings.model_name, outcome.model_version
        emit(
            self.settings,
            "scoring_committed",
            model=name,
            version=version,
            date=date,
            details=details,
            clients=self.clients,
        )
        if outcome.drift is not None and outcome.drift.drifted:
            drifted = {
                "variant": outcome.variant,
                "features": list(outcome.drift.drifted),
                "max_psi": outcome.drift.max_psi,
            }
            emit(
                self.settings,
                "drift_detected",
                model=name,
                version=version,
                date=date,
                details=drifted,
                clients=self.clients,
            )

    def failed(self, variant: str, exc: BaseException) -> None:
        error = exc.headline if isinstance(exc, MLPlatformError) else f"{type(exc).__name__}: {exc}"
        emit(
            self.settings,
            "scoring_failed",
            model=self.settings.model_name,
            date=self.logical_date,
            details={"variant": variant, "error": error},
            clients=self.clients,
        )


@dataclass(frozen=True)
class _Staged:
    """One run's stores between opening and commit: everything they staged is committed
    together, or aborted together when any stage fails."""

    settings: Settings
    model: ResolvedModel
    stream: FeatureStream
    stamp: RunStamp
    stores: list[Sink]
    publishers: list[Publisher]
    progress: StepReporter
    started: float

    def score_and_commit(
        self, run: RunLogger, tracking_uri: str
    ) -> tuple[RunCounts, dict[str, SinkResult], DriftReport | None]:
        settings, model, stores = self.settings, self.model, self.stores
        try:
            for sink in stores:
                sink.open(self.stamp)
            counts = score_batches(settings, model, self.stream, self.stamp, stores, self.progress)
            run.set_tags({"predictor": "compiled" if getattr(model.model, "native", False) else "scikit-learn"})
            check_not_empty(counts, self.stream, self.stamp.run_date, settings.inference.allow_empty)
            results, drift = finish_and_record(run, stores, counts, model, time.perf_counter() - self.started)
            check_drift(drift, settings.inference.drift.fail_on_drift)
            body = manifest(settings, model, self.stream, self.stamp, counts, drift, tracking_uri, self.publishers)
            commit_stores(stores, body, results, self.progress)
        except BaseException:
            for sink in stores:
                sink.abort()
            raise
        return counts, results, drift


def _connect(sinks: list[Sink | Publisher], progress: StepReporter) -> tuple[list[Sink], list[Publisher]]:
    """The stores and publishers, each remote one checked before the run starts."""
    for sink in sinks:
        if sink.preflight:
            with progress.step(f"Connect to {sink.preflight}"):
                sink.check()
    return [s for s in sinks if isinstance(s, Sink)], [s for s in sinks if isinstance(s, Publisher)]


def _publish(
    run: RunLogger, clients: Clients, output_uri: str, publishers: Sequence[Publisher], progress: StepReporter
) -> dict[str, SinkResult]:
    run.set_tags({"published": "no"})
    published = publish_committed(clients, output_uri, publishers, progress)
    run.log_metrics({k: v for result in published.values() for k, v in result.metrics.items()})
    run.set_tags({"published": "yes"})
    return published


def _tags(settings: Settings, model: ResolvedModel, logical_date: str, variant: str) -> dict[str, str]:
    return {
        "variant": variant,
        "mlplatform.pipeline": "inference",
        "mlplatform.version": __version__,
        "mlplatform.env": settings.env,
        "model.uri": model.uri,
        "model.name": model.name or "",
        "model.version": model.version or "",
        "run_date": logical_date,
    }


def _run_params(
    settings: Settings, model: ResolvedModel, stream: FeatureStream, logical_date: str, publishers: Sequence[Publisher]
) -> dict[str, Any]:
    inference = settings.inference
    kafka = inference.kafka.topic if any(sink.name == "kafka" for sink in publishers) else None
    return {
        "model_uri": model.uri,
        "model_version": model.version,
        "run_date": logical_date,
        "input": stream.source[:490],
        "batch_size": inference.batch_size,
        "output_format": inference.output_format,
        "on_bad_rows": inference.on_bad_rows,
        "kafka_topic": kafka,
    }
