"""`mlplatform quality`: realized quality per date and variant, from the committed predictions and
the labels that arrived for them.

A date's result is kept under `<data-root>/<project>/monitoring/model=M/quality/` with the
predictions run and the labels commit it was computed from, so late labels recompute only the
dates they touch. Each computed result is also logged as metrics on the date's inference run
(`realized_<metric>`, `realized_ci_low/high`, `label_coverage`, `labels`), and a date that turns
`degraded` emits `quality_degraded`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.flows.events import emit
from mlplatform.flows.setup import open_mlflow
from mlplatform.layout import CHAMPION, MONITORING, date_folder, model_folder
from mlplatform.monitoring.quality import ClassificationQuality, RegressionQuality, quality_status
from mlplatform.registry.mlflow import Mlflow
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.labels import LabelStore, read_parquet_columns
from mlplatform.sinks.store import ObjectStore

VARIANTS = (CHAMPION, "challenger")
JSON_KEYS = (
    "date",
    "variant",
    "model_version",
    "predictions",
    "labels",
    "coverage",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "reference",
    "estimate",
    "status",
)


@dataclass(frozen=True)
class DateQuality:
    date: str
    variant: str
    model_version: str | None
    predictions: int
    labels: int
    coverage: float
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    reference: float | None
    estimate: float | None
    status: str
    metrics: dict[str, float]  # every realized metric (accuracy besides f1_macro; mae, r2 besides rmse)
    basis: str  # the predictions run and labels commit it was computed from

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in JSON_KEYS}


def run_quality(
    settings: Settings,
    start: str | None = None,
    end: str | None = None,
    clients: Clients | None = None,
    mlflow: Mlflow | None = None,
) -> list[DateQuality]:
    """Every committed date of the model (and its challenger variant) in [start, end], oldest first."""
    clients = clients or Clients()
    quality = _Quality(settings, clients, mlflow or open_mlflow(settings))
    results = []
    for variant in VARIANTS:
        for day in quality.dates(variant):
            if (start is None or day >= start) and (end is None or day <= end):
                found = quality.of(day, variant)
                if found is not None:
                    results.append(found)
    return sorted(results, key=lambda r: (r.date, VARIANTS.index(r.variant)))


class _Quality:
    def __init__(self, settings: Settings, clients: Clients, mlflow: Mlflow) -> None:
        self.settings, self.clients, self.mlflow = settings, clients, mlflow
        self.model = settings.model_name
        self.labels = LabelStore(clients, settings.data_root, settings.project, self.model)
        folder = model_folder(settings.data_root, settings.project, self.model, MONITORING)
        self.cache = ObjectStore(clients, f"{folder}/quality", trusted=settings.data_root)
        self._references: dict[str, dict[str, float]] | None = None

    def dates(self, variant: str) -> list[str]:
        folder = model_folder(self.settings.data_root, self.settings.project, self.model, variant=variant)
        names = ObjectStore(self.clients, folder, trusted=self.settings.data_root).children()
        return sorted(name[5:] for name in names if name.startswith("date="))

    def of(self, day: str, variant: str) -> DateQuality | None:
        folder = date_folder(self.settings.data_root, self.settings.project, self.model, day, variant=variant)
        output = CommittedOutput.load(self.clients, folder)
        if output is None:
            return None
        labels = self.labels.committed(day)
        monitoring = self.settings.monitoring
        basis = json.dumps(
            [output.run_id, labels.run_id if labels else None, monitoring.model_dump(exclude={"report_path"})]
        )
        cached = self._cached(day, variant)
        if cached is not None and cached.basis == basis:
            return cached
        result = self._compute(day, variant, output, basis)
        self.cache.write(f"date={day}~variant={variant}.json", json.dumps(asdict(result)).encode())
        if result.labels:
            self._record(output, result, previous=cached)
        return result

    def _cached(self, day: str, variant: str) -> DateQuality | None:
        data = self.cache.read(f"date={day}~variant={variant}.json")
        try:
            return DateQuality(**json.loads(data)) if data else None
        except (ValueError, TypeError):
            return None  # an unreadable cache entry is simply computed again

    def _compute(self, day: str, variant: str, output: CommittedOutput, basis: str) -> DateQuality:
        manifest = output.manifest
        classes = [str(c) for c in manifest.get("classes", [])]
        version = manifest.get("model", {}).get("version")
        metric = "f1_macro" if classes else "rmse"
        labels = self.labels.read(day)
        realized = None
        if labels is not None and len(labels):
            realized = _realized(output, labels, classes)
        count = realized.labels if realized else 0
        coverage = count / output.rows if output.rows else 0.0
        reference = self._reference(version, metric)
        monitoring = self.settings.monitoring
        status = quality_status(
            realized,
            reference,
            coverage,
            tolerance=monitoring.quality_tolerance,
            min_coverage=monitoring.min_coverage,
            min_labels=monitoring.min_labels,
        )
        estimate = manifest.get("monitoring", {}).get("estimate", {}).get(metric)
        return DateQuality(
            date=day,
            variant=variant,
            model_version=version,
            predictions=output.rows,
            labels=count,
            coverage=coverage,
            metric=metric,
            value=realized.value if realized else None,
            ci_low=realized.ci_low if realized else None,
            ci_high=realized.ci_high if realized else None,
            reference=reference,
            estimate=estimate,
            status=status,
            metrics=realized.metrics if realized else {},
            basis=basis,
        )

    def _reference(self, version: str | None, metric: str) -> float | None:
        """The version's holdout value of the metric, from its training run."""
        if version is None:
            return None
        if self._references is None:
            self._references = {v.version: v.metrics for v in self.mlflow.model.versions(limit=200)}
        value = self._references.get(str(version), {}).get(metric)
        return None if value is None else float(value)

    def _record(self, output: CommittedOutput, result: DateQuality, previous: DateQuality | None) -> None:
        metrics = {f"realized_{k}": v for k, v in result.metrics.items()} | {
            "realized_ci_low": result.ci_low,
            "realized_ci_high": result.ci_high,
            "label_coverage": result.coverage,
            "labels": result.labels,
        }
        self.mlflow.tracking.log_to_run(output.run_id, {k: float(v) for k, v in metrics.items() if v is not None})
        if result.status == "degraded" and (previous is None or previous.status != "degraded"):
            details = {k: v for k, v in result.as_json().items() if k not in ("date", "model_version")}
            emit(
                self.settings,
                "quality_degraded",
                model=self.model,
                version=result.model_version,
                date=result.date,
                details=details,
                clients=self.clients,
            )


def _realized(output: CommittedOutput, labels: Any, classes: list[str]) -> Any:
    """Join the date's predictions with its labels on the row id; the realized metrics."""
    predicted_column = "predicted_class" if classes else "predicted_value"
    predictions = read_parquet_columns(output, ["row_id", predicted_column])
    predictions = predictions.set_column(0, "row_id", pc.cast(predictions.column("row_id"), pa.string()))
    truth = pa.table(
        {"row_id": pa.array(labels["row_id"].astype(str), pa.string()), "label": pa.array(labels["label"])}
    )
    joined = predictions.join(truth, "row_id", join_type="inner")
    if classes:
        truth_values = joined.column("label").to_pandas().astype(str)
        names = [*classes, *sorted(set(truth_values.unique()) - set(classes))]
        accumulator = ClassificationQuality(len(names))
        predicted = joined.column(predicted_column).to_pandas().astype(str)
        accumulator.add(
            pd.Categorical(truth_values, categories=names).codes.astype(np.int64),
            pd.Categorical(predicted, categories=names).codes.astype(np.int64),
        )
        return accumulator.result()
    accumulator = RegressionQuality()
    accumulator.add(
        joined.column("label").to_numpy(zero_copy_only=False).astype(float),
        joined.column(predicted_column).to_numpy(zero_copy_only=False).astype(float),
    )
    return accumulator.result()


@dataclass(frozen=True)
class ShadowComparison:
    """Champion and challenger on the same labelled rows: dates both scored and labelled."""

    metric: str
    dates: list[str]
    labels: int
    champion_version: str | None
    champion: float
    challenger_version: str | None
    challenger: float

    def line(self) -> str:
        return (
            f"shadow comparison on the same labelled rows ({len(self.dates)} "
            f"date{'s' if len(self.dates) != 1 else ''}, {self.labels:,} labels): "
            f"{self.metric} champion v{self.champion_version} {self.champion:.3f}, "
            f"challenger v{self.challenger_version} {self.challenger:.3f}"
        )

    def challenger_worse(self, tolerance: float) -> bool:
        if self.metric in ("rmse", "mae"):
            return self.challenger > self.champion + tolerance
        return self.challenger < self.champion - tolerance


def shadow_comparison(
    settings: Settings, version: str | None = None, clients: Clients | None = None, mlflow: Mlflow | None = None
) -> ShadowComparison | None:
    """The realized metric of champion and challenger (`version`, when given, must be the one the
    challenger dates were scored with), weighted by labels over the dates where both have them."""
    results = run_quality(settings, clients=clients, mlflow=mlflow)
    by_date: dict[str, dict[str, DateQuality]] = {}
    for result in results:
        if result.labels and result.value is not None:
            by_date.setdefault(result.date, {})[result.variant] = result
    pairs = [
        (found[CHAMPION], found["challenger"])
        for found in by_date.values()
        if CHAMPION in found and "challenger" in found and version in (None, found["challenger"].model_version)
    ]
    if not pairs:
        return None
    labels = sum(champion.labels for champion, _ in pairs)

    def weighted(side: int) -> float:
        return sum(pair[side].value * pair[side].labels for pair in pairs) / max(sum(p[side].labels for p in pairs), 1)

    first, second = pairs[-1]
    return ShadowComparison(
        metric=first.metric,
        dates=[champion.date for champion, _ in pairs],
        labels=labels,
        champion_version=first.model_version,
        champion=weighted(0),
        challenger_version=second.model_version,
        challenger=weighted(1),
    )
