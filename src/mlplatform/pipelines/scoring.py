"""The daily inference pipeline: registry model -> streamed batches -> files/S3 + Kafka.

Order matters for "nothing half-written": the model and the input columns are checked before
anything is written; parts are staged and only committed (with `_SUCCESS`) after every row is
scored and every Kafka message is acknowledged.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlplatform import __version__
from mlplatform.data.generator import generated_batches
from mlplatform.data.loading import FeatureStream, resolve_partition, stream_features
from mlplatform.errors import DataError, PipelineError
from mlplatform.pipelines.progress import LogReporter, StepReporter
from mlplatform.plots import drift_png, warm_plotting
from mlplatform.registry.mlflow_store import MlflowRegistry, ResolvedModel
from mlplatform.scoring.batch import ScoredBatch, score_batch
from mlplatform.scoring.drift import DriftAccumulator, DriftReport
from mlplatform.scoring.messages import (
    SCHEMA_VERSION,
    RunStamp,
    prediction_documents,
    prediction_ids,
    prediction_table,
    quarantine_table,
)
from mlplatform.scoring.schema import check_input_schema
from mlplatform.settings import Settings
from mlplatform.sinks.files import DatePartitionWriter, serialise
from mlplatform.sinks.kafka import KafkaPublisher, KafkaResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringOutcome:
    run_id: str
    run_date: str
    model: str
    model_version: str | None
    rows: int
    bad_rows: int
    seconds: float
    output_uri: str
    kafka: KafkaResult | None
    drift: DriftReport | None
    class_counts: dict[str, int]
    source: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / max(self.seconds, 1e-9)


def open_input(settings: Settings, model: ResolvedModel, run_date: str) -> FeatureStream:
    """Files (`--input`) or rows generated from the model's training profile."""
    inference = settings.inference
    if inference.input:
        uri = resolve_partition(inference.input, run_date)

        def check(schema: Any, source: str) -> None:
            check_input_schema(schema, model.feature_names, inference.id_column, source)

        return stream_features(
            uri, model.feature_names, inference.id_column, inference.batch_size, check, inference.row_id_offset
        )
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


def run_scoring(settings: Settings, run_date: str, progress: StepReporter | None = None) -> ScoringOutcome:
    progress = progress or LogReporter()
    inference = settings.inference
    started = time.perf_counter()
    registry = MlflowRegistry.from_settings(settings)

    with progress.step("Resolve model"):
        model = registry.resolve(settings.model_uri)
        if "n_jobs" in model.model.get_params():
            model.model.set_params(n_jobs=inference.predict_jobs)
    with progress.step("Open input"):
        stream = open_input(settings, model, run_date)
    publisher = None
    if inference.kafka.enabled:
        with progress.step(f"Connect to Kafka topic {inference.kafka.topic}"):
            stamp_headers = RunStamp(run_date, "", model.name or "", model.version or "", model.uri).header_pairs()
            publisher = KafkaPublisher(inference.kafka, f"mlplatform-{settings.project}", stamp_headers)
            publisher.check_topic()

    tags = {
        "mlplatform.pipeline": "inference",
        "mlplatform.version": __version__,
        "mlplatform.env": settings.env,
        "model.uri": model.uri,
        "model.name": model.name or "",
        "model.version": model.version or "",
        "run_date": run_date,
    }
    with registry.run(settings.inference_experiment, f"score-{run_date}", tags) as run:
        run.log_params(
            {
                "model_uri": model.uri,
                "model_version": model.version,
                "run_date": run_date,
                "input": stream.source[:490],
                "batch_size": inference.batch_size,
                "output_format": inference.output_format,
                "on_bad_rows": inference.on_bad_rows,
                "kafka_topic": inference.kafka.topic if publisher else None,
            }
        )
        stamp = RunStamp(run_date, run.run_id, model.name or "", model.version or "", model.uri)
        writer = DatePartitionWriter(
            settings.data_root, settings.project, run_date, inference.output_format, run.run_id, inference.shard
        )
        try:
            counts = _score_stream(settings, model, stream, stamp, writer, publisher, progress)
            drift = counts.drift.report() if counts.drift else None
            with tempfile.TemporaryDirectory(prefix="mlplatform-scoring-") as tmp:
                # Draw the drift plot while Kafka's last acknowledgements arrive (a GIL-free wait).
                artifacts = threading.Thread(target=_write_drift_artifacts, args=(Path(tmp), drift, model))
                artifacts.start()
                try:
                    kafka_result = publisher.finish() if publisher else None
                finally:
                    artifacts.join()
                seconds = time.perf_counter() - started
                _log_run(run, counts, drift, kafka_result, seconds, Path(tmp))
            if drift is not None and drift.drifted:
                log.warning(
                    "drift above PSI %.2f in: %s",
                    drift.threshold,
                    ", ".join(f"{f.feature} ({f.psi:.3f})" for f in drift.features if f.psi > drift.threshold),
                )
                if inference.drift.fail_on_drift:
                    raise PipelineError(
                        f"input drifted from the training data in {', '.join(drift.drifted)}",
                        "inspect drift/drift.png in the inference run; re-run without --fail-on-drift to accept",
                    )
            manifest = {
                "schema_version": SCHEMA_VERSION,
                "run_date": run_date,
                "rows": counts.rows,
                "bad_rows": counts.bad_rows,
                "bad_row_policy": inference.on_bad_rows,
                "model": {"name": model.name, "version": model.version, "uri": model.uri, "run_id": model.run_id},
                "input": {"source": stream.source, "fingerprint": stream.fingerprint, "files": list(stream.files)},
                "kafka": kafka_result.as_dict() if kafka_result else None,
                "inference_run_id": run.run_id,
                "mlflow_tracking_uri": registry.tracking_uri,
                "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "mlplatform_version": __version__,
            }
            with progress.step("Commit output"):
                output_uri = writer.commit(manifest)
            run.set_tags({"output_uri": output_uri})
        except BaseException:
            writer.abort()
            if publisher is not None:
                publisher.abort()
            raise

    return ScoringOutcome(
        run_id=run.run_id,
        run_date=run_date,
        model=model.label,
        model_version=model.version,
        rows=counts.rows,
        bad_rows=counts.bad_rows,
        seconds=time.perf_counter() - started,
        output_uri=output_uri,
        kafka=kafka_result,
        drift=drift,
        class_counts=counts.class_counts(),
        source=stream.source,
    )


@dataclass
class _Counts:
    classes: list[Any]
    drift: DriftAccumulator | None
    rows: int = 0
    bad_rows: int = 0
    per_class: np.ndarray | None = None

    def add(self, scored: ScoredBatch) -> None:
        self.rows += len(scored)
        self.bad_rows += len(scored.bad_row_ids)
        counts = np.bincount(scored.predicted, minlength=len(self.classes))
        self.per_class = counts if self.per_class is None else self.per_class + counts
        if self.drift is not None:
            self.drift.update(scored.features)

    def class_counts(self) -> dict[str, int]:
        values = self.per_class if self.per_class is not None else np.zeros(len(self.classes), dtype=int)
        return {str(c): int(n) for c, n in zip(self.classes, values, strict=True)}


def _score_stream(
    settings: Settings,
    model: ResolvedModel,
    stream: FeatureStream,
    stamp: RunStamp,
    writer: DatePartitionWriter,
    publisher: KafkaPublisher | None,
    progress: StepReporter,
) -> _Counts:
    inference = settings.inference
    classes = list(model.model.classes_)
    names = model.feature_names
    drift = None
    if model.profile is not None:
        drift = DriftAccumulator(model.profile, names, inference.drift.psi_threshold)
    else:
        log.warning("model %s has no training profile: no drift report", model.label)
    counts = _Counts(classes, drift)
    fmt = inference.output_format
    if drift is not None:
        # The drift plot needs matplotlib (~0.5 s to import, GIL-bound); import it while the
        # scoring below spends its time in GIL-free predict_proba, Arrow and Parquet code.
        threading.Thread(target=warm_plotting, name="warm-matplotlib", daemon=True).start()
    with progress.bar(f"Score {model.label}", stream.total_rows) as advance:
        for row_ids, features in stream.batches():
            scored = score_batch(model.model, row_ids, features, names)
            if len(scored.bad_row_ids):
                if inference.on_bad_rows == "fail":
                    raise DataError(
                        f"row {scored.bad_row_ids[0]} of {stream.source}: {scored.bad_reasons[0]} "
                        f"({len(scored.bad_row_ids)} bad rows in this batch)",
                        "fix the input, or pass --on-bad-rows quarantine to score the rest",
                    )
                bad = quarantine_table(
                    stamp.run_date, scored.bad_row_ids, scored.bad_features, names, scored.bad_reasons
                )
                writer.write_quarantine(serialise(bad, "csv" if fmt == "jsonl" else fmt), bad.num_rows)
            if len(scored):
                ids = prediction_ids(stamp.run_date, scored.row_ids)
                documents = None
                if publisher is not None or fmt == "jsonl":
                    documents = prediction_documents(
                        stamp, ids, scored, names, classes, datetime.now(UTC).isoformat(timespec="seconds")
                    )
                values = documents.to_pylist() if documents is not None else None
                if fmt == "jsonl":
                    data = ("\n".join(values) + "\n").encode()  # type: ignore[arg-type]
                else:
                    table = prediction_table(stamp, ids, scored, names, classes)
                    data = serialise(table, fmt)
                writer.write_part(data, len(scored))
                if publisher is not None and values is not None:
                    publisher.submit(ids.to_pylist(), values)
            counts.add(scored)
            advance(len(row_ids))
    return counts


def _write_drift_artifacts(folder: Path, drift: DriftReport | None, model: ResolvedModel) -> None:
    if drift is None:
        return
    (folder / "drift").mkdir()
    report = drift.as_dict() | {"model": model.label}
    (folder / "drift" / "drift_report.json").write_text(json.dumps(report, indent=1))
    drift_png(report, folder / "drift" / "drift.png")


def _log_run(
    run: Any,
    counts: _Counts,
    drift: DriftReport | None,
    kafka: KafkaResult | None,
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
    if kafka is not None:
        metrics |= {"kafka_produced": kafka.produced, "kafka_delivered": kafka.delivered, "kafka_failed": kafka.failed}
    if drift is not None:
        metrics |= {f"psi_{f.feature}": f.psi for f in drift.features}
        metrics |= {f"ks_{f.feature}": f.ks for f in drift.features}
        metrics |= {"drift_max_psi": drift.max_psi, "drifted_features": len(drift.drifted)}
    run.log_metrics(metrics)
    if any(artifacts.iterdir()):
        run.log_artifacts(artifacts)
