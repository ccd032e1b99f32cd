"""Scoring building blocks: schema check, bad rows, drift, messages, generated rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlplatform.data.generator import generated_batches
from mlplatform.data.profile import build_profile
from mlplatform.errors import DataError
from mlplatform.scoring.batch import ScoredBatch, bad_row_reasons, score_batch
from mlplatform.scoring.drift import DriftAccumulator, psi
from mlplatform.scoring.messages import RunStamp, prediction_documents, prediction_ids, prediction_table
from mlplatform.scoring.schema import check_input_schema

FEATURES = ["a", "b"]
KINDS = {"a": "numeric", "b": "numeric"}


@pytest.fixture
def profile():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    labels = np.array(["x"] * 500 + ['y"quoted'] * 500, dtype=object)
    return build_profile(frame(x), KINDS, labels), x


def frame(x) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(x, dtype=float).reshape(-1, 2), columns=FEATURES)


@pytest.mark.parametrize(
    ("fields", "id_column", "message"),
    [
        ([("a", pa.float64())], None, "lacks column 'b'"),
        ([("a", pa.float64()), ("b", pa.int32()), ("c", pa.float64())], None, "has column 'c'"),
        ([("a", pa.float64()), ("b", pa.string())], None, "column 'b' of src holds type string"),
        ([("a", pa.float64()), ("b", pa.bool_())], None, "column 'b' of src holds true/false values"),
        ([("a", pa.float64()), ("b", pa.float64())], "id", "id column 'id' not in input"),
    ],
)
def test_schema_problems_are_named(fields, id_column, message):
    with pytest.raises(DataError, match=message):
        check_input_schema(pa.schema(fields), KINDS, id_column, "src")


def test_schema_accepts_ints_categories_of_any_type_an_id_and_a_date_partition_column():
    schema = pa.schema([("a", pa.int64()), ("b", pa.bool_()), ("id", pa.string()), ("date", pa.string())])
    check_input_schema(schema, {"a": "numeric", "b": "categorical"}, "id", "src")


def test_bad_rows_name_each_offending_column():
    features = frame([[1.0, 2.0], [np.nan, 2.0], [np.inf, np.nan]])
    mask, reasons = bad_row_reasons(features, FEATURES, accepts_missing=False)
    assert mask.tolist() == [False, True, True]
    assert reasons == ["a is null/NaN", "a is inf; b is null/NaN"]
    # a model that imputes takes missing values; infinite ones it cannot
    mask, reasons = bad_row_reasons(features, FEATURES, accepts_missing=True)
    assert mask.tolist() == [False, False, True] and reasons == ["a is inf"]


class Constant:
    classes_ = np.array(["x", "y"])

    def predict_proba(self, features):
        return np.tile([0.25, 0.75], (len(features), 1))


def test_score_batch_keeps_good_rows_in_order_and_sets_bad_aside():
    ids = np.array([10, 11, 12])
    scored = score_batch(Constant(), ids, frame([[1.0, 1.0], [np.nan, 0], [2.0, 2.0]]), "classification", FEATURES,
                         accepts_missing=False)  # fmt: skip
    assert scored.row_ids.tolist() == [10, 12]
    assert scored.bad_row_ids.tolist() == [11]
    assert scored.predicted.tolist() == [1, 1]


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift(profile):
    stats, x = profile
    same = DriftAccumulator(stats, FEATURES, 0.2)
    for chunk in np.array_split(x, 7):  # streamed in uneven batches
        same.update(frame(chunk))
    report = same.report()
    assert report.max_psi < 0.01 and report.drifted == []
    assert all(f.ks < 0.02 for f in report.features)

    shifted = DriftAccumulator(stats, FEATURES, 0.2)
    shifted.update(frame(x + np.array([3.0, 0.0])))
    report = shifted.report()
    assert report.drifted == ["a"]
    assert report.features[0].psi > 1 and report.features[0].ks > 0.2


def test_psi_formula():
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    assert psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(0.4 * np.log(1.8) - 0.4 * np.log(0.2))


def batch(row_ids, features, probabilities, predicted) -> ScoredBatch:
    return ScoredBatch(
        row_ids, frame(features), np.array(predicted), np.array(probabilities), np.array([], int), frame([]), []
    )


def test_messages_are_valid_json_with_escaped_labels_and_deterministic_ids():
    stamp = RunStamp("2026-11-22", "run-1", "m", "3", "models:/m@production", "2026-11-22T06:00:00+00:00")
    row_ids = np.array([5, 6])
    ids = prediction_ids(stamp.key_prefix, row_ids)
    assert ids.to_pylist() == [f"{stamp.model_name}:2026-11-22:5", f"{stamp.model_name}:2026-11-22:6"]
    scored = batch(row_ids, [[1.5, 2.0], [3.25, -1.0]], [[0.1234567, 0.8765433], [1.0, 0.0]], [1, 0])
    table = prediction_table(stamp, ids, scored, FEATURES, ["x", 'y"q'])
    docs = prediction_documents(stamp, table, FEATURES, ["x", 'y"q'])
    first, second = (json.loads(d) for d in docs.to_pylist())
    assert first["prediction_id"] == f"{stamp.model_name}:2026-11-22:5" and first["row_id"] == 5
    assert first["predicted_class"] == 'y"q'
    assert first["features"] == {"a": 1.5, "b": 2.0}
    assert first["probabilities"] == {"x": 0.123457, 'y"q': 0.876543}
    assert first["model"] == {"name": "m", "version": "3", "uri": "models:/m@production"}
    assert second["predicted_class"] == "x" and second["schema_version"] == 1
    assert first["scored_at"] == "2026-11-22T06:00:00+00:00"


def test_messages_read_back_from_committed_parquet_and_csv_are_the_same_bytes(tmp_path):
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    stamp = RunStamp("2026-11-22", "run-1", "m", "3", "models:/m@production", "2026-11-22T06:00:00+00:00")
    row_ids = np.array(["007", "b"], dtype=object)
    scored = batch(row_ids, [[1.5, float("nan")], [1e-7, -1.0]], [[0.1234567, 0.8765433], [1.0, 0.0]], [1, 0])
    table = prediction_table(stamp, prediction_ids(stamp.key_prefix, row_ids), scored, FEATURES, [0, 1])
    expected = prediction_documents(stamp, table, FEATURES, [0, 1]).to_pylist()
    pq.write_table(table, tmp_path / "p.parquet")
    assert prediction_documents(stamp, pq.read_table(tmp_path / "p.parquet"), FEATURES, [0, 1]).to_pylist() == expected
    pcsv.write_csv(table, tmp_path / "p.csv")
    types = {f.name: pa.string() if "string" in str(f.type) else f.type for f in table.schema}
    options = pcsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    back = pcsv.read_csv(tmp_path / "p.csv", convert_options=options)
    assert prediction_documents(stamp, back, FEATURES, [0, 1]).to_pylist() == expected
    assert json.loads(expected[0])["row_id"] == "007" and json.loads(expected[0])["features"]["b"] is None


def test_prediction_table_stamps_the_model_version():
    stamp = RunStamp("2026-11-22", "run-1", "m", "3", "uri")
    scored = batch(np.array([1]), [[1.0, 2.0]], [[0.4, 0.6]], [1])
    table = prediction_table(stamp, prediction_ids("m:d:", np.array([1])), scored, FEATURES, ["x", "y"])
    row = table.to_pylist()[0]
    assert row["model_version"] == "3" and row["predicted_class"] == "y" and row["proba_y"] == 0.6


def test_generated_rows_are_deterministic_bounded_and_follow_the_classes(profile):
    stats, x = profile
    first = list(generated_batches(stats, FEATURES, 2500, seed=1, batch_size=1000))
    again = list(generated_batches(stats, FEATURES, 2500, seed=1, batch_size=1000))
    other = list(generated_batches(stats, FEATURES, 2500, seed=2, batch_size=1000))
    assert [len(ids) for ids, _ in first] == [1000, 1000, 500]
    assert np.concatenate([ids for ids, _ in first]).tolist() == list(range(2500))
    assert all(a[1].equals(b[1]) for a, b in zip(first, again, strict=True))
    assert not first[0][1].equals(other[0][1])
    rows = np.vstack([f.to_numpy() for _, f in first])
    assert rows.min() >= x.min() - 0.01 and rows.max() <= x.max() + 0.01
    near_second_class = (rows[:, 0] > 2.5).mean()
    assert 0.45 < near_second_class < 0.55


def test_generation_needs_a_profile():
    with pytest.raises(DataError, match="no training profile"):
        next(generated_batches(None, FEATURES, 10, 0, 10))
