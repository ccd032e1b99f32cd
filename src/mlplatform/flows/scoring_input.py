"""The first stages of scoring: resolve the model, open the input, compile the forest when the
run is large enough to gain from it. Nothing is written before these pass."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Any

from mlplatform.clients import Clients
from mlplatform.concurrency import available_cores
from mlplatform.config.settings import Settings
from mlplatform.data.generator import generated_batches
from mlplatform.data.loading import FeatureStream, stream_features
from mlplatform.data.partitions import partition_for
from mlplatform.data.sizes import expected_rows
from mlplatform.flows.progress import StepReporter
from mlplatform.registry.mlflow import Mlflow, ResolvedModel
from mlplatform.scoring import prebuilt
from mlplatform.scoring.schema import check_input_schema

log = logging.getLogger(__name__)


def resolve_model(mlflow: Mlflow, settings: Settings, progress: StepReporter, uri: str) -> ResolvedModel:
    """The model at `uri`, loaded and verified, its estimator set to the predict threads."""
    with progress.step("Resolve model"):
        model = mlflow.loader.resolve(uri)
        # the estimator's threads only: a ColumnTransformer with n_jobs would start worker processes
        jobs = [key for key in model.model.get_params() if key in ("n_jobs", "model__n_jobs")]
        model.model.set_params(**dict.fromkeys(jobs, settings.inference.predict_jobs))
    return model


def open_input(settings: Settings, model: ResolvedModel, logical_date: str, clients: Clients) -> FeatureStream:
    """Files (`--input`) or rows generated from the model's training profile. The row id is
    `--id-column`, else the id column the model was trained with when the input has it."""
    inference = settings.inference
    if inference.input:
        return _open_files(settings, model, logical_date, clients)
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


def _open_files(settings: Settings, model: ResolvedModel, logical_date: str, clients: Clients) -> FeatureStream:
    inference = settings.inference
    assert inference.input is not None
    uri = partition_for(inference.input, logical_date, clients)
    profile = model.profile or {}
    target = profile.get("target", {}).get("name")
    ignored = {*profile.get("ignored_columns", ()), *inference.drop_columns, *([target] if target else [])}
    trained_id = profile.get("id_column")
    id_column: list[str | None] = [inference.id_column]
    noted: set[str] = set()

    def check(schema: Any, source: str) -> None:
        if id_column[0] is None and trained_id in schema.names:
            id_column[0] = trained_id
        if target in schema.names and source not in noted:  # the training file itself, say
            noted.add(source)
            log.warning("column %r of %s is the model's target: not used for scoring", target, source)
        check_input_schema(schema, model.feature_kinds, id_column[0], source, ignored - {id_column[0]})

    return stream_features(
        uri,
        model.feature_kinds,
        lambda: id_column[0],
        inference.batch_size,
        check,
        clients,
        inference.row_id_offset,
        model.text_categories,
    )


def compiled_if_worth_it(
    settings: Settings, model: ResolvedModel, stream: FeatureStream, clients: Clients, progress: StepReporter
) -> ResolvedModel:
    """The model predicting through its compiled forest when that pays (`scoring.prebuilt`): the
    library compiled at training when this platform can load it, else a compile only when the
    expected rows save more than it costs; never for an input of unknown size."""
    jobs = settings.inference.predict_jobs
    threads = jobs if jobs > 0 else available_cores()
    rows = expected_rows(stream.total_rows, settings.inference.input and stream.source, stream.files, clients)
    choice = prebuilt.plan(model.model, model.prebuilt, rows, settings.inference.compile, threads, model.label)
    cache = settings.state_dir / "compiled"
    with progress.step("Compile model") if choice.action == "compile" else contextlib.nullcontext():
        return replace(model, model=prebuilt.apply(choice, model.model, model.prebuilt, cache, threads))
