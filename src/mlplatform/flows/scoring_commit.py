"""The last stages of scoring: make every store durable, record the run, take the drift
verdict, then commit every store (the `_SUCCESS` manifest last) — or abort all of them."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlplatform import __version__
from mlplatform.config.settings import Settings
from mlplatform.data.loading import FeatureStream
from mlplatform.errors import DataError, PipelineError
from mlplatform.flows.progress import StepReporter
from mlplatform.plots import drift_png
from mlplatform.registry.mlflow import ResolvedModel, RunLogger
from mlplatform.scoring.batch import task_of
from mlplatform.scoring.drift import DriftReport
from mlplatform.scoring.messages import SCHEMA_VERSION, RunStamp
from mlplatform.scoring.summary import RunCounts, monitoring_section, run_metrics
from mlplatform.sinks import Publisher, Sink, SinkResult

log = logging.getLogger(__name__)


def check_not_empty(counts: RunCounts, stream: FeatureStream, logical_date: str, allow_empty: bool) -> None:
    if counts.rows + counts.bad_rows == 0 and not allow_empty:
        raise DataError(
            f"input {stream.source} has no rows for {logical_date}",
            "check the input; pass --allow-empty to commit an empty date on purpose",
        )


def finish_and_record(
    run: RunLogger, stores: Sequence[Sink], counts: RunCounts, model: ResolvedModel, seconds: float
) -> tuple[dict[str, SinkResult], DriftReport | None]:
    """Every store made durable (nothing visible yet) while the drift report and plot are drawn,
    then the run's metrics and artifacts logged."""
    drift = counts.drift.report() if counts.drift else None
    with tempfile.TemporaryDirectory(prefix="mlplatform-scoring-") as folder:
        artifacts = Path(folder)
        plotting = threading.Thread(target=_write_drift_artifacts, args=(artifacts, drift, model))
        plotting.start()
        try:
            results = {sink.name: sink.finish() for sink in stores}
        finally:
            plotting.join()
        sink_metrics = {k: v for result in results.values() for k, v in result.metrics.items()}
        run.log_metrics(run_metrics(counts, drift, sink_metrics, seconds))
        if any(artifacts.iterdir()):
            run.log_artifacts(artifacts)
    return results, drift


def _write_drift_artifacts(folder: Path, drift: DriftReport | None, model: ResolvedModel) -> None:
    if drift is None:
        return
    (folder / "drift").mkdir()
    report = drift.as_dict() | {"model": model.label}
    (folder / "drift" / "drift_report.json").write_text(json.dumps(report, indent=1))
    drift_png(report, folder / "drift" / "drift.png")


def check_drift(drift: DriftReport | None, fail_on_drift: bool) -> None:
    """Warn about drifted features; with `fail_on_drift`, stop before anything is committed."""
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


def commit_stores(
    stores: Sequence[Sink], manifest: dict[str, Any], results: dict[str, SinkResult], progress: StepReporter
) -> None:
    """Commit every store; the one that writes `_SUCCESS` last, holding every other's section."""
    manifest = manifest | {sink.name: results[sink.name].section for sink in stores if not sink.writes_manifest}
    with progress.step("Commit output"):
        for sink in sorted(stores, key=lambda sink: sink.writes_manifest):
            sink.commit(manifest)


def manifest(
    settings: Settings,
    model: ResolvedModel,
    stream: FeatureStream,
    stamp: RunStamp,
    counts: RunCounts,
    drift: DriftReport | None,
    tracking_uri: str,
    publishers: Sequence[Publisher],
) -> dict[str, Any]:
    """The run's own part of `_SUCCESS`; each store adds its section."""
    classification = task_of(model.model) == "classification"
    return {
        "schema_version": SCHEMA_VERSION,
        "run_date": stamp.run_date,
        "variant": stamp.variant,
        "scored_at": stamp.scored_at,
        "features": model.feature_names,
        "classes": [str(label) for label in model.model.classes_] if classification else [],
        "rows": counts.rows,
        "bad_rows": counts.bad_rows,
        "bad_row_policy": settings.inference.on_bad_rows,
        "model": {"name": model.name, "version": model.version, "uri": model.uri, "run_id": model.run_id},
        "input": {"source": stream.source, "fingerprint": stream.fingerprint, "files": list(stream.files)},
        "inference_run_id": stamp.inference_run_id,
        "mlflow_tracking_uri": tracking_uri,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mlplatform_version": __version__,
        "publish_to": {p.name: _destination(settings, p.name) for p in publishers},
        "monitoring": monitoring_section(counts, drift),
    }


def _destination(settings: Settings, publisher: str) -> str:
    return settings.inference.kafka.topic if publisher == "kafka" else publisher
