"""Ground truth as it arrives: a label file checked, split by date, and merged into what each date
already has. Pure: tables in, tables and counts out.

A label belongs to one prediction: (model, prediction date, row id). Re-ingesting the same file
changes nothing; a different label for a key replaces the older one, and the time each label
arrived is kept (an unchanged label keeps its first arrival).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplatform.errors import DataError

LABEL_COLUMNS = ("row_id", "label", "arrived_at", "source")


@dataclass(frozen=True)
class LabelFile:
    """A label file's rows, normalised: text row ids, the logical date, the label."""

    source: str
    frame: pd.DataFrame  # columns: date (ISO text), row_id (text), label
    unseen_classes: int  # classification: labels of a class the model never saw (allowed, counted)


def check_labels(
    frame: pd.DataFrame,
    source: str,
    *,
    id_column: str,
    label_column: str,
    date: str | None,
    task: str,
    classes: list[str],
) -> LabelFile:
    """Every problem a user would fix, the first one raised as one line naming the fix."""
    missing = [c for c in (id_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(
            f"label file {source} has no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})",
            "name the columns with --id-column and --label-column",
        )
    if date is None and "date" not in frame.columns:
        raise DataError(f"label file {source} has no 'date' column", "add one, or give the date with --date")
    dates = _dates(frame["date"] if date is None else pd.Series([date] * len(frame), index=frame.index), source)
    labels = frame[label_column]
    if labels.isna().any():
        row = int(np.flatnonzero(labels.isna().to_numpy())[0])
        raise DataError(f"label file {source}: data row {row + 1} has no label", "remove rows without a label")
    labels = _labels_of_kind(labels, task, source, label_column)
    ids = frame[id_column].astype(str) if frame[id_column].dtype.kind != "f" else _float_ids(frame[id_column])
    table = pd.DataFrame({"date": dates.to_numpy(), "row_id": ids.to_numpy(), "label": labels.to_numpy()})
    duplicated = table.duplicated(["date", "row_id"], keep="first")
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise DataError(
            f"label file {source} has two labels for row {first['row_id']!r} of {first['date']}",
            "keep one label per prediction (a newer file replaces older labels)",
        )
    unseen = int((~table["label"].isin(classes)).sum()) if task == "classification" else 0
    return LabelFile(source, table, unseen)


def _dates(values: pd.Series, source: str) -> pd.Series:
    parsed = pd.to_datetime(values.astype(str), format="ISO8601", errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"label file {source}: data row {row + 1} has date {values.iloc[row]!r}, not an ISO date",
            "write dates as YYYY-MM-DD",
        )
    return parsed.dt.strftime("%Y-%m-%d")


def _labels_of_kind(labels: pd.Series, task: str, source: str, column: str) -> pd.Series:
    if task == "classification":
        return labels.map(_class_text)
    numbers = pd.to_numeric(labels, errors="coerce")
    if numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise DataError(
            f"label file {source}: {column!r} holds {labels.iloc[row]!r} at data row {row + 1}, but the model is a "
            "regression model (numeric labels)",
            "check --label-column, or the model (--model-name)",
        )
    return numbers.astype(float)


def _class_text(value: Any) -> str:
    """Labels compare as text, the way predictions name their classes (1.0 and 1 are '1')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _float_ids(values: pd.Series) -> pd.Series:
    """Whole-number ids read as floats (a CSV column with blanks) are the integers they were."""
    return values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))


@dataclass(frozen=True)
class Merged:
    table: pd.DataFrame  # LABEL_COLUMNS
    added: int
    replaced: int
    unchanged: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)


def merge_labels(existing: pd.DataFrame | None, incoming: pd.DataFrame, arrived_at: str, source: str) -> Merged:
    """`incoming` (row_id, label) over what a date has: new keys added, different labels replace
    the old (with this arrival time), equal labels keep their first arrival."""
    new = incoming[["row_id", "label"]].assign(arrived_at=arrived_at, source=source)
    if existing is None or existing.empty:
        return Merged(new.reset_index(drop=True), len(new), 0, 0)
    old = existing.set_index("row_id")
    known = new["row_id"].isin(old.index)
    previous = old["label"].reindex(new["row_id"]).to_numpy()
    same = known.to_numpy() & (previous == new["label"].to_numpy())
    keep_old = old[~old.index.isin(new["row_id"][~same])]
    changed = new[~same]
    table = pd.concat([keep_old.reset_index()[list(LABEL_COLUMNS)], changed], ignore_index=True)
    replaced = int((known.to_numpy() & ~same).sum())
    return Merged(table, int((~known).sum()), replaced, int(same.sum()))
