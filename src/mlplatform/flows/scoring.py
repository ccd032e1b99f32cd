"""The daily inference flow: resolve the model -> open the input -> score each batch -> hand it
to every store -> commit all stores or abort all -> publish the committed date (Kafka).

Order matters for "nothing half-written, nothing half-published": the model and the input
columns are checked before anything is written; stores finish before the run is logged and the
drift verdict taken, and only then commit (the `_SUCCESS` manifest last). Publishers read the
committed files back, so a run that fails before the commit has published nothing, and a failed
publish is resumed from the files (`run_publish`, `mlplatform publish`) without re-scoring.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mlplatform import __version__
from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.generator import generated_batches
from mlplatform.data.loading import FeatureStream, resolve_partition, stream_features
from mlplatform.data.sizes import expected_rows
from mlplatform.errors import ConfigError, DataError, PipelineError
from mlplatform.flows.progress import LogReporter, StepReporter
from mlplatform.flows.setup import open_mlflow
from mlplatform.locks import RunInProgressError, exclusive_lock, is_free, process_alive
from mlplatform.plots import drift_png, warm_plotting
from mlplatform.registry.mlflow import ResolvedModel, RunLogger
from mlplatform.scoring import prebuilt
from mlplatform.scoring.batch import ScoredBatch, UniqueIds, accepts_missing, score_batch, task_of
from mlplatform.scoring.drift import DriftAccumulator, DriftReport
from mlplatform.scoring.messages import SCHEMA_VERSION, RunStamp
from mlplatform.scoring.schema import check_input_schema
from mlplatform.sinks import PredictionBatch, Publisher, Sink, SinkResult, build_sinks
from mlplatform.sinks.files import CommittedOutput, date_uri, read_published, write_published

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

    @property
    def rows_per_second(self) -> float:
        return self.rows / max(self.seconds, 1e-9)

    @property
    def output_uri(self) -> str:
        return str(self.sinks[STORAGE].section["uri"])

    def section(self, sink: str) -> dict[str, Any] | None:
        result = self.sinks.get(sink)
        return result.section if result is not None else None


def open_input(settings: Settings, model: ResolvedModel, logical_date: str, clients: Clients) -> FeatureStream:
    """Files (`--input`) or rows generated from the model's training profile. The row id is
    `--id-column`, else the id column the model was trained with when the input has it."""
    inference = settings.inference
    if inference.input:
        uri = resolve_partition(inference.input, logical_date, clients)
        profile = model.profile or {}
        ignored = {*profile.get("ignored_columns", ()), *([t] if (t := profile.get("target", {}).get("name")) else [])}
        trained_id = profile.get("id_column")
        id_column: list[str | None] = [inference.id_column]

        def check(schema: Any, source: str) -> None:
            if id_column[0] is None and trained_id in schema.names:
                id_column[0] = trained_id
            check_input_schema(schema, model.feature_kinds, id_column[0], source, ignored - {id_column[0]})

        return stream_features(
            uri, model.feature_kinds, lambda: id_column[0], inference.batch_size, check, clients,
            inference.row_id_offset,
        )  # fmt: skip
    rows, seed, offset = inference.rows, inference.seed, inference.row_id_offset
    # Fail now, before any output, if the model cannot generate rows.
    next(iter(generated_batches(model.profile, model.feature_names, 1, seed, 1)))
    return FeatureStream(
        source=f"generated:{rows} rows, seed {seed}, from the training profile of {model.label}",
        files=(),
        fingerprint=f"generated-{rows}-{seed}-{model.version or model.run_id}",
        total_rows=rows,
        batches=lambda: generated_batches(
            model.profile, model.feature_names, rows, seed + offset, inference.batch_size, offset
        ),
    )


def run_lock(settings: Settings, logical_date: str, shard: str | None) -> Path:
    """The lock of one model, date (and shard) in a state directory: scoring and publishing it."""
    # model names are [A-Za-z0-9._-] (a settings rule) and dates ISO: safe in a file name
    name = f"score-{settings.model_name}-{logical_date}" + (f"-{shard}" if shard else "")
    return settings.state_dir / "locks" / f"{name.replace('=', '-')}.lock"


def run_scoring(
    settings: Settings,
    logical_date: str,
    progress: StepReporter | None = None,
    clients: Clients | None = None,
    sinks: Sequence[Sink | Publisher] | None = None,
) -> ScoringOutcome:
    """Score the date's input with the settings' model into `sinks` (default: `build_sinks`).
    One run per model, date (and shard) at a time in a state directory: a second one waits
    (`inference.wait`) or stops with RunInProgressError (exit 75) before touching anything."""
    inference = settings.inference
    lock = run_lock(settings, logical_date, inference.shard)
    what = f"scoring {settings.model_name} for {logical_date}"
    fix = "wait for it, or pass --wait to queue behind it"
    with exclusive_lock(lock, what, wait=inference.wait, fix=fix, error=RunInProgressError):
        return _run_scoring(settings, logical_date, progress, clients, sinks)


def _run_scoring(
    settings: Settings,
    logical_date: str,
    progress: StepReporter | None,
    clients: Clients | None,
    sinks: Sequence[Sink | Publisher] | None,
) -> ScoringOutcome:
    progress = progress or LogReporter()
    clients = clients or Clients()
    started = time.perf_counter()
    mlflow = open_mlflow(settings)
    with progress.step("Resolve model"):
        model = mlflow.loader.resolve(settings.model_uri)
        # the estimator's threads only: a ColumnTransformer with n_jobs would start worker processes
        jobs = [key for key in model.model.get_params() if key in ("n_jobs", "model__n_jobs")]
        model.model.set_params(**dict.fromkeys(jobs, settings.inference.predict_jobs))
    with progress.step("Open input"):
        stream = open_input(settings, model, logical_date, clients)
    model = _compile(settings, model, stream, clients, progress)
    sinks = list(sinks) if sinks is not None else build_sinks(settings, clients)
    stores = [sink for sink in sinks if isinstance(sink, Sink)]
    publishers = [sink for sink in sinks if isinstance(sink, Publisher)]
    for sink in sinks:
        if sink.preflight:
            with progress.step(f"Connect to {sink.preflight}"):
                sink.check()
    _sweep_abandoned(settings, logical_date, stores)

    tags = {
        "mlplatform.pipeline": "inference",
        "mlplatform.version": __version__,
        "mlplatform.env": settings.env,
        "model.uri": model.uri,
        "model.name": model.name or "",
        "model.version": model.version or "",
        "run_date": logical_date,
    }
    with mlflow.tracking.run(settings.inference_experiment, f"score-{logical_date}", tags) as run:
        run.log_params(_run_params(settings, model, stream, logical_date, publishers))
        scored_at = datetime.now(UTC).isoformat(timespec="seconds")
        stamp = RunStamp(
            logical_date, run.run_id, model.name or settings.model_name, model.version or "", model.uri, scored_at
        )
        try:
            for sink in stores:
                sink.open(stamp)
            counts = _score_stream(settings, model, stream, stamp, stores, progress)
            run.set_tags({"predictor": "compiled" if getattr(model.model, "native", False) else "scikit-learn"})
            if counts.rows + counts.bad_rows == 0 and not settings.inference.allow_empty:
                raise DataError(
                    f"input {stream.source} has no rows for {logical_date}",
                    "check the input; pass --allow-empty to commit an empty date on purpose",
                )
            with tempfile.TemporaryDirectory(prefix="mlplatform-scoring-") as artifacts:
                results, drift = _finish(stores, counts, model, Path(artifacts))
                _log_run(run, counts, drift, results, time.perf_counter() - started, Path(artifacts))
            _check_drift(drift, settings.inference.drift.fail_on_drift)
            manifest = _manifest(settings, model, stream, stamp, counts, mlflow.tracking_uri)
            manifest |= {"publish_to": {p.name: _destination(settings, p.name) for p in publishers}}
            manifest |= {sink.name: results[sink.name].section for sink in stores if not sink.writes_manifest}
            with progress.step("Commit output"):
                for sink in sorted(stores, key=lambda sink: sink.writes_manifest):
                    sink.commit(manifest)
        except BaseException:
            for sink in stores:
                sink.abort()
            raise
        output_uri = str(results[STORAGE].section["uri"])
        run.set_tags({"output_uri": output_uri})
        if publishers:
            run.set_tags({"published": "no"})
            published = _publish(clients, output_uri, publishers, progress)
            results |= published
            run.log_metrics({k: v for result in published.values() for k, v in result.metrics.items()})
            run.set_tags({"published": "yes"})

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
    )


def _compile(
    settings: Settings, model: ResolvedModel, stream: FeatureStream, clients: Clients, progress: StepReporter
) -> ResolvedModel:
    """The model predicting through its compiled forest when that pays (`scoring.prebuilt`)."""
    jobs = settings.inference.predict_jobs
    threads = jobs if jobs > 0 else os.cpu_count() or 1
    rows = expected_rows(stream.total_rows, settings.inference.input and stream.source, stream.files, clients)
    choice = prebuilt.plan(model.model, model.prebuilt, rows, settings.inference.compile, threads, model.label)
    cache = settings.state_dir / "compiled"
    with progress.step("Compile model") if choice.action == "compile" else contextlib.nullcontext():
        return replace(model, model=prebuilt.apply(choice, model.model, model.prebuilt, cache, threads))


def _destination(settings: Settings, publisher: str) -> str:
    return settings.inference.kafka.topic if publisher == "kafka" else publisher


# A run on another machine cannot be probed: its entry counts as abandoned after this long.
ABANDONED_AFTER = timedelta(hours=24)


def _sweep_abandoned(settings: Settings, logical_date: str, stores: Sequence[Sink]) -> None:
    """Remove what runs that died before their commit left behind, for any date of the model
    nobody is scoring now. On this machine the run's pid and lock tell; a run another machine
    started (a SageMaker host writing its own shard of the same S3 prefix) is only taken for
    dead once it is older than ABANDONED_AFTER."""
    here, shard, now = socket.gethostname(), settings.inference.shard, datetime.now(UTC)

    def idle(entry: dict[str, Any]) -> bool:
        if entry.get("host", here) != here:
            started = entry.get("started_at")
            return started is not None and datetime.fromisoformat(started) < now - ABANDONED_AFTER
        pid = entry.get("pid")
        if pid is not None and pid != os.getpid() and process_alive(int(pid)):
            return False
        key = (entry["date"], entry.get("shard"))
        return key == (logical_date, shard) or is_free(run_lock(settings, *key))  # ours: we hold it

    for sink in stores:
        for removed in sink.sweep(idle):
            log.info("removed the parts of an abandoned run: %s", removed)


def _publish(
    clients: Clients, output_uri: str, publishers: Sequence[Publisher], progress: StepReporter
) -> dict[str, SinkResult]:
    """Send the committed date with every publisher, then record it in `_PUBLISHED`."""
    output = CommittedOutput.load(clients, output_uri)
    if output is None:
        raise DataError(f"{output_uri} has no committed output (_SUCCESS)", "score the date first")
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
) -> PublishOutcome:
    """Publish a committed date again from its files (after a failed publish): no re-scoring.
    A date whose committed run is already published is left alone unless `force`."""
    progress = progress or LogReporter()
    clients = clients or Clients()
    inference = settings.inference
    publishers = [sink for sink in build_sinks(settings, clients) if isinstance(sink, Publisher)]
    if not publishers:
        raise ConfigError("no publisher is configured", "set KAFKA_BOOTSTRAP_SERVERS (and KAFKA_TOPIC)")
    folder = date_uri(settings.data_root, settings.project, settings.model_name, logical_date)
    folder += f"/{inference.shard}" if inference.shard else ""
    what = f"scoring {settings.model_name} for {logical_date}"
    with exclusive_lock(run_lock(settings, logical_date, inference.shard), what, wait=inference.wait,
                        fix="wait for it, or pass --wait", error=RunInProgressError):  # fmt: skip
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
        return PublishOutcome(logical_date, folder, output.run_id, _publish(clients, folder, publishers, progress))


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


@dataclass
class _Counts:
    classes: list[Any]  # empty for a regressor
    drift: DriftAccumulator | None
    rows: int = 0
    bad_rows: int = 0
    per_class: np.ndarray | None = None
    total: float = 0.0
    low: float = np.inf
    high: float = -np.inf

    def add(self, scored: ScoredBatch) -> None:
        self.rows += len(scored)
        self.bad_rows += len(scored.bad_row_ids)
        if self.classes:
            counts = np.bincount(scored.predicted, minlength=len(self.classes))
            self.per_class = counts if self.per_class is None else self.per_class + counts
        elif len(scored):
            self.total += float(scored.predicted.sum())
            self.low = min(self.low, float(scored.predicted.min()))
            self.high = max(self.high, float(scored.predicted.max()))
        if self.drift is not None:
            self.drift.update(scored.features)

    def class_counts(self) -> dict[str, int]:
        values = self.per_class if self.per_class is not None else np.zeros(len(self.classes), dtype=int)
        return {str(c): int(n) for c, n in zip(self.classes, values, strict=True)}

    def prediction_stats(self) -> dict[str, float]:
        if self.classes or not self.rows:
            return {}
        return {"prediction_mean": self.total / self.rows, "prediction_min": self.low, "prediction_max": self.high}


def _score_stream(
    settings: Settings,
    model: ResolvedModel,
    stream: FeatureStream,
    stamp: RunStamp,
    sinks: Sequence[Sink],
    progress: StepReporter,
) -> _Counts:
    inference = settings.inference
    task = task_of(model.model)
    classes = list(model.model.classes_) if task == "classification" else []
    names, numeric, missing_ok = model.feature_names, model.numeric_features, accepts_missing(model.model)
    drift = None
    if model.profile is not None:
        drift = DriftAccumulator(model.profile, names, inference.drift.psi_threshold)
        # The drift plot needs matplotlib (~0.5 s to import, GIL-bound); import it while the
        # scoring below spends its time in GIL-free predict_proba, Arrow and Parquet code.
        threading.Thread(target=warm_plotting, name="warm-matplotlib", daemon=True).start()
    else:
        log.warning("model %s has no training profile: no drift report", model.label)
    counts = _Counts(classes, drift)
    ids = UniqueIds(stream.id_column, stream.source) if stream.id_column else None

    def deliver(scored: ScoredBatch, advance: Callable[[int], None]) -> None:
        batch = PredictionBatch(stamp, scored, names, classes)
        for sink in sinks:
            sink.write(batch)
        counts.add(scored)
        advance(len(scored) + len(scored.bad_row_ids))

    with progress.bar(f"Score {model.label}", stream.total_rows) as advance, _Overlapped(deliver) as delivery:
        for row_ids, features in stream.batches():
            if ids is not None:
                ids.add(row_ids)
            scored = score_batch(model.model, row_ids, features, task, numeric, missing_ok)
            if len(scored.bad_row_ids) and inference.on_bad_rows == "fail":
                raise DataError(
                    f"row {scored.bad_row_ids[0]} of {stream.source}: {scored.bad_reasons[0]} "
                    f"({len(scored.bad_row_ids)} bad rows in this batch)",
                    "fix the input, or pass --on-bad-rows quarantine to score the rest",
                )
            delivery.submit(scored, advance)
    if ids is not None:
        ids.check()
    return counts


class _Overlapped:
    """Runs `stage` on the batches in order in one thread of its own, at most `depth` behind the
    caller: the sinks serialise and write batch N (Parquet, hashing and I/O release the GIL)
    while batch N+1 is read and scored. Leaving the block waits for every submitted batch; a
    failure of the stage is raised in the caller, at the next submit or on leaving."""

    def __init__(self, stage: Callable[..., None], depth: int = 2) -> None:
        self.stage = stage
        self.depth = depth
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliver")
        self.pending: deque[Future[None]] = deque()

    def __enter__(self) -> _Overlapped:
        return self

    def submit(self, *args: Any) -> None:
        while len(self.pending) >= self.depth:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self.stage, *args))

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        # On a failure nothing more is delivered, but what is being written finishes before the
        # caller aborts the sinks (so no part is written after the abort removed the run).
        self.pool.shutdown(wait=True, cancel_futures=kind is not None)
        if kind is None:
            while self.pending:
                self.pending.popleft().result()


def _finish(
    sinks: Sequence[Sink], counts: _Counts, model: ResolvedModel, artifacts: Path
) -> tuple[dict[str, SinkResult], DriftReport | None]:
    """Every sink made durable; the drift report and plot drawn into `artifacts` meanwhile (the
    wait for the last Kafka acknowledgements is GIL-free)."""
    drift = counts.drift.report() if counts.drift else None
    plotting = threading.Thread(target=_write_drift_artifacts, args=(artifacts, drift, model))
    plotting.start()
    try:
        results = {sink.name: sink.finish() for sink in sinks}
    finally:
        plotting.join()
    return results, drift


def _write_drift_artifacts(folder: Path, drift: DriftReport | None, model: ResolvedModel) -> None:
    if drift is None:
        return
    (folder / "drift").mkdir()
    report = drift.as_dict() | {"model": model.label}
    (folder / "drift" / "drift_report.json").write_text(json.dumps(report, indent=1))
    drift_png(report, folder / "drift" / "drift.png")


def _log_run(
    run: RunLogger,
    counts: _Counts,
    drift: DriftReport | None,
    results: dict[str, SinkResult],
    seconds: float,
    artifacts: Path,
) -> None:
    scored = max(counts.rows, 1)
    metrics: dict[str, float] = {
        "rows": counts.rows,
        "bad_rows": counts.bad_rows,
        "rows_per_s": counts.rows / max(seconds, 1e-9),
        "duration_s": seconds,
    }
    metrics |= {f"class_fraction_{label}": n / scored for label, n in counts.class_counts().items()}
    metrics |= counts.prediction_stats()
    for result in results.values():
        metrics |= result.metrics
    if drift is not None:
        metrics |= {f"psi_{f.feature}": f.psi for f in drift.features}
        metrics |= {f"ks_{f.feature}": f.ks for f in drift.features if f.ks is not None}
        metrics |= {f"unseen_{f.feature}": f.unseen for f in drift.features if f.kind == "categorical"}
        metrics |= {"drift_max_psi": drift.max_psi, "drifted_features": len(drift.drifted)}
    run.log_metrics(metrics)
    if any(artifacts.iterdir()):
        run.log_artifacts(artifacts)


def _check_drift(drift: DriftReport | None, fail_on_drift: bool) -> None:
    if drift is None or not drift.drifted:
        return
    log.warning(
        "drift above PSI %.2f in: %s",
        drift.threshold,
        ", ".join(f"{f.feature} ({f.psi:.3f})" for f in drift.features if f.psi > drift.threshold),
    )
    if fail_on_drift:
        raise PipelineError(
            f"input drifted from the training data in {', '.join(drift.drifted)}",
            "inspect drift/drift.png in the inference run; re-run without --fail-on-drift to accept",
        )


def _manifest(
    settings: Settings,
    model: ResolvedModel,
    stream: FeatureStream,
    stamp: RunStamp,
    counts: _Counts,
    tracking_uri: str,
) -> dict[str, Any]:
    """The run's own part of `_SUCCESS`; each sink adds its section."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_date": stamp.run_date,
        "scored_at": stamp.scored_at,
        "features": model.feature_names,
        "classes": [str(label) for label in model.model.classes_] if task_of(model.model) == "classification" else [],
        "rows": counts.rows,
        "bad_rows": counts.bad_rows,
        "bad_row_policy": settings.inference.on_bad_rows,
        "model": {"name": model.name, "version": model.version, "uri": model.uri, "run_id": model.run_id},
        "input": {"source": stream.source, "fingerprint": stream.fingerprint, "files": list(stream.files)},
        "inference_run_id": stamp.inference_run_id,
        "mlflow_tracking_uri": tracking_uri,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mlplatform_version": __version__,
    }
