"""The scoring stage: read the input batch by batch, score it, hand each scored batch to every
store while the next one is scored, and add up the counts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from mlplatform.concurrency import BackgroundStage
from mlplatform.config.settings import Settings
from mlplatform.data.loading import FeatureStream
from mlplatform.errors import DataError
from mlplatform.flows.progress import StepReporter
from mlplatform.monitoring.estimate import ExpectedConfusion
from mlplatform.plots import warm_plotting
from mlplatform.registry.mlflow import ResolvedModel
from mlplatform.scoring.batch import ScoredBatch, UniqueIds, accepts_missing, score_batch, task_of
from mlplatform.scoring.drift import DriftAccumulator
from mlplatform.scoring.messages import RunStamp
from mlplatform.scoring.summary import RunCounts
from mlplatform.sinks import PredictionBatch, Sink

log = logging.getLogger(__name__)


def new_counts(settings: Settings, model: ResolvedModel) -> RunCounts:
    """Counts for the model's task, with drift measured against its training profile."""
    classes = list(model.model.classes_) if task_of(model.model) == "classification" else []
    drift = None
    if model.profile is not None:
        drift = DriftAccumulator(model.profile, model.feature_names, settings.inference.drift.psi_threshold)
        # The drift plot needs matplotlib (GIL-bound to import); import it while the scoring
        # spends its time in GIL-free predict_proba, Arrow and Parquet code.
        threading.Thread(target=warm_plotting, name="warm-matplotlib", daemon=True).start()
    else:
        log.warning("model %s has no training profile: no drift report", model.label)
    calibration = (model.profile or {}).get("calibration")
    expected = ExpectedConfusion(calibration) if classes and calibration else None
    return RunCounts(classes, drift, expected)


def score_batches(
    settings: Settings,
    model: ResolvedModel,
    stream: FeatureStream,
    stamp: RunStamp,
    stores: Sequence[Sink],
    progress: StepReporter,
) -> RunCounts:
    """Score every batch of `stream` into `stores`; the stores write batch N in a background
    stage while batch N+1 is read and scored (Parquet, hashing and I/O release the GIL)."""
    task = task_of(model.model)
    names, numeric, missing_ok = model.feature_names, model.numeric_features, accepts_missing(model.model)
    counts = new_counts(settings, model)
    ids = UniqueIds(stream.id_column, stream.source) if stream.id_column else None
    fail_on_bad_rows = settings.inference.on_bad_rows == "fail"

    def deliver(scored: ScoredBatch, advance: Callable[[int], None]) -> None:
        batch = PredictionBatch(stamp, scored, names, counts.classes)
        for sink in stores:
            sink.write(batch)
        counts.add(scored)
        advance(len(scored) + len(scored.bad_row_ids))

    with (
        progress.bar(f"Score {model.label}", stream.total_rows) as advance,
        BackgroundStage(deliver, depth=2, name="deliver") as delivery,
    ):
        for row_ids, features in stream.batches():
            if ids is not None:
                ids.add(row_ids)
            scored = score_batch(model.model, row_ids, features, task, numeric, missing_ok)
            if len(scored.bad_row_ids) and fail_on_bad_rows:
                raise _bad_rows(scored, stream.source)
            delivery.submit(scored, advance)
    if ids is not None:
        ids.check()
    return counts


def _bad_rows(scored: ScoredBatch, source: str) -> DataError:
    return DataError(
        f"row {scored.bad_row_ids[0]} of {source}: {scored.bad_reasons[0]} "
        f"({len(scored.bad_row_ids)} bad rows in this batch)",
        "fix the input, or pass --on-bad-rows quarantine to score the rest",
    )
