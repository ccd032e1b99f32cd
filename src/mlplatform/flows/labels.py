"""`mlplatform labels add`: ground truth in. A label file is checked against the model (its target,
task and classes, from the training profile of the version the settings name), matched to the
committed predictions of each date it covers, merged into what that date has, and committed per
date — all checks first, so a bad file stores nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.data.loading import load_frame
from mlplatform.errors import DataError, ModelNotFoundError
from mlplatform.flows.events import emit
from mlplatform.flows.setup import open_mlflow
from mlplatform.layout import date_folder
from mlplatform.monitoring.labels import check_labels, merge_labels
from mlplatform.registry.mlflow import Mlflow
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.labels import LabelStore, read_parquet_columns


@dataclass(frozen=True)
class ModelFacts:
    """What labels are checked against: the task, target and classes the model was trained on."""

    name: str
    task: str
    target: str
    classes: list[str]
    id_column: str


def model_facts(settings: Settings, mlflow: Mlflow) -> ModelFacts:
    name, _, run_id = mlflow.loader.locate(settings.model_uri)
    profile = mlflow.loader.profile(run_id)
    if profile is None:
        raise ModelNotFoundError(
            f"model {settings.model_uri} has no training profile: its target and classes are unknown",
            "label a model trained by `mlplatform train`",
        )
    return ModelFacts(
        name or settings.model_name,
        str(profile.get("task", "classification")),
        str(profile.get("target", {}).get("name") or settings.target_column),
        [str(c) for c in profile.get("classes", {})],
        settings.inference.id_column or profile.get("id_column") or "row_id",
    )


@dataclass(frozen=True)
class DateLabels:
    date: str
    in_file: int
    matched: int
    stored: int  # the date's labels after this file
    predictions: int
    added: int
    replaced: int

    @property
    def unmatched(self) -> int:
        return self.in_file - self.matched

    @property
    def coverage(self) -> float:
        return self.stored / self.predictions if self.predictions else 0.0

    def line(self) -> str:
        changes = f"{self.added:,} new, {self.replaced:,} replaced" if self.added or self.replaced else "no change"
        return (
            f"{self.date}: {self.stored:,} labels, {self.coverage:.1%} of {self.predictions:,} predictions, "
            f"{self.unmatched:,} unmatched ({changes})"
        )


@dataclass(frozen=True)
class LabelsOutcome:
    source: str
    model: str
    dates: list[DateLabels]
    unseen_classes: int


def run_labels_add(
    settings: Settings,
    input_uri: str,
    *,
    date: str | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    clients: Clients | None = None,
    mlflow: Mlflow | None = None,
) -> LabelsOutcome:
    clients = clients or Clients()
    mlflow = mlflow or open_mlflow(settings)
    facts = model_facts(settings, mlflow)
    loaded = load_frame(input_uri, clients)
    checked = check_labels(
        loaded.frame,
        loaded.source,
        id_column=id_column or facts.id_column,
        label_column=label_column or facts.target,
        date=date,
        task=facts.task,
        classes=facts.classes,
    )
    store = LabelStore(clients, settings.data_root, settings.project, facts.name)
    matched = {day: _matched(settings, clients, facts.name, day, group) for day, group in checked.frame.groupby("date")}
    if not any(len(found) for found, _ in matched.values()):
        raise DataError(
            f"none of the {len(checked.frame):,} labels in {loaded.source} matches a prediction of {facts.name} "
            f"(dates {', '.join(sorted(matched))})",
            "check the dates (--date or a 'date' column), the id column (--id-column) and the model (--model-name)",
        )
    arrived = datetime.now(UTC).isoformat(timespec="seconds")
    ingest = uuid.uuid4().hex
    in_file = checked.frame["date"].value_counts()
    numeric = facts.task == "regression"
    results = [
        _store(store, day, found, predictions, int(in_file[day]), (arrived, ingest, loaded.source), numeric)
        for day, (found, predictions) in sorted(matched.items())
    ]
    touched = [result.date for result in results if result.added or result.replaced]
    for result in results:
        if result.date in touched:
            details = {"labels": result.stored, "coverage": result.coverage, "source": loaded.source}
            emit(settings, "labels_added", model=facts.name, date=result.date, details=details, clients=clients)
    if touched:  # the touched dates' realized quality, now (the dashboard reads it; the rest is cached)
        from mlplatform.flows.quality import run_quality

        run_quality(settings, start=min(touched), end=max(touched), clients=clients, mlflow=mlflow)
    return LabelsOutcome(loaded.source, facts.name, results, checked.unseen_classes)


def _matched(
    settings: Settings, clients: Clients, model: str, day: str, group: pd.DataFrame
) -> tuple[pd.DataFrame, int]:
    """The date's labels whose row id has a committed prediction, and how many predictions."""
    output = CommittedOutput.load(clients, date_folder(settings.data_root, settings.project, model, day))
    if output is None:
        return group.iloc[0:0], 0
    ids = read_parquet_columns(output, ["row_id"]).column("row_id")
    known = pd.Index(pd.Series(ids.to_pandas()).astype(str).to_numpy())
    return group[group["row_id"].isin(known)], output.rows


def _store(
    store: LabelStore,
    day: str,
    found: pd.DataFrame,
    predictions: int,
    in_file: int,
    ingest: tuple[str, str, str],
    numeric: bool,
) -> DateLabels:
    """Merge and commit one date; `ingest` is (arrival time, ingest id, source)."""
    arrived, ingest_id, source = ingest
    merged = merge_labels(store.read(day), found, arrived, source)
    if merged.changed:
        store.commit(day, merged.table, ingest_id, numeric)
    return DateLabels(day, in_file, len(found), len(merged.table), predictions, merged.added, merged.replaced)


def labels_summary(outcome: LabelsOutcome) -> list[str]:
    lines = [result.line() for result in outcome.dates]
    if outcome.unseen_classes:
        lines.append(f"{outcome.unseen_classes:,} labels name a class the model never saw (kept; they count as errors)")
    return lines
