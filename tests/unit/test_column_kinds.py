"""Type inference from whole CSV files and the rules that decide a column's kind (round 2 of
real-world data): late first values, blanks, codes spelled with digits, ISO dates, many levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlplatform.clients import Clients
from mlplatform.data.columns import feature_frame
from mlplatform.data.csv_types import typed_column
from mlplatform.data.loading import load_frame, stream_features
from mlplatform.data.profile import build_profile
from mlplatform.data.validation import validate_training_frame
from mlplatform.errors import DataError
from mlplatform.registry.mlflow.models import ResolvedModel
from tests.support.tables import real_world_traits


@pytest.mark.parametrize(
    ("values", "kind", "expected"),
    [
        (["", " ", "NO", "YES"], pa.string(), [None, None, "NO", "YES"]),
        (["1", "2", "", "2.5"], pa.float64(), [1.0, 2.0, None, 2.5]),
        (["1", " 2", "NA", ""], pa.int64(), [1, 2, None, None]),
        (["00501", "98126", ""], pa.string(), ["00501", "98126", None]),  # leading zeros: codes
        (["98126", "98126-2920"], pa.string(), ["98126", "98126-2920"]),
        (["TRUE", "false", ""], pa.bool_(), [True, False, None]),
        (["", "  "], pa.null(), [None, None]),
        (["1", "NA", "n/a"], pa.int64(), [1, None, None]),
        (["NA", "x"], pa.string(), ["NA", "x"]),  # in text, NA is a category like pyarrow reads it
    ],
)
def test_a_text_column_gets_the_narrowest_type_all_its_values_fit(values, kind, expected):
    typed = typed_column(pa.array(values, pa.string()))
    assert typed.type == kind and typed.to_pylist() == expected


def test_a_csv_is_typed_from_every_row_not_the_first_block(tmp_path):
    rows = 40_000  # ~1.6 MB: pyarrow would infer from the first ~1 MB only
    late = rows - 100
    table = pd.DataFrame({
        "padding": ["x" * 30] * rows,
        "searched": [""] * late + ["NO", "YES"] * 50,
        "count": [str(i % 7) for i in range(late)] + ["2.5"] * 100,
        "code": [str(i % 9) for i in range(late)] + ["A-12"] * 100,
    })  # fmt: skip
    table.to_csv(tmp_path / "late.csv", index=False)
    frame = load_frame(str(tmp_path / "late.csv"), Clients()).frame
    assert frame["searched"].iloc[late:].tolist() == ["NO", "YES"] * 50 and frame["searched"].iloc[:late].isna().all()
    assert frame["count"].dtype == np.float64 and frame["count"].iloc[-1] == 2.5
    assert frame["code"].iloc[-1] == "A-12" and frame["code"].iloc[0] == "0"


def test_codes_with_separators_and_leading_zeros_are_categories():
    rows = 40
    table = pd.DataFrame({
        "zip": (["98126", "98126-2920", "98108", ""] * 10),
        "bay": (["A-12", "B-3", "7"] * 14)[:rows],
        "area": (["00501", "01002", "98126"] * 14)[:rows],
        "y": ["x", "z"] * 20,
    })  # fmt: skip
    data = validate_training_frame(table, "y", 0.25)
    assert data.plan.kinds == {"zip": "categorical", "bay": "categorical", "area": "categorical"}
    assert data.features["zip"].tolist()[:4] == ["98126", "98126-2920", "98108", None]  # blank = missing
    assert data.features["area"].iloc[0] == "00501"


def test_a_rejected_column_names_the_real_value_and_data_row_not_a_blank():
    values = [str(i) for i in range(30)]
    values[3], values[17] = "", "five"  # a blank first, then the real typo
    labels = ["x", "z"] * 15
    labels[1] = None  # an unlabeled row before it, left out: the row number still counts it
    table = pd.DataFrame({"a": values, "y": labels})
    with pytest.raises(DataError) as info:
        validate_training_frame(table, "y", 0.25, drop_unlabeled=True)
    assert "(e.g. 'five' at data row 18)" in info.value.headline


def test_iso_dates_and_times_in_text_are_datetime_features():
    table = pd.DataFrame({
        "stamp": ["2013-01-01 05:00:00", "2013-01-01T06:30:00Z", "2013-03-31T11:00:00+02:00", ""] * 10,
        "day": ["2018-11-16", "2018-11-17", None, "2019-01-02"] * 10,
        "typed": pd.to_datetime(["2020-01-01"] * 40),
        "not_a_date": ["2013-01-01", "soon", "2013-02-01", "later"] * 10,
        "y": ["x", "z"] * 20,
    })  # fmt: skip
    data = validate_training_frame(table, "y", 0.25)
    assert data.plan.datetime == ["stamp", "day", "typed"]
    assert data.plan.kinds["not_a_date"] == "categorical"
    assert data.features["typed"].iloc[0].startswith("2020-01-01 00:00:00")  # ISO text, as Arrow spells it


def test_many_short_codes_are_categories_and_long_wordy_text_is_not():
    rows = 12_000
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "tail": [f"N{i:04d}" for i in rng.integers(0, 4000, rows)],
        "comment": [f"the parcel {i} arrived late and the box was damaged" for i in rng.integers(0, 8000, rows)],
        "name": [f"C{i:06d}" for i in range(rows)],
        "y": rng.choice(["a", "b"], rows),
    })  # fmt: skip
    data = validate_training_frame(table, "y", 0.25)
    assert data.plan.kinds == {"tail": "categorical"}
    assert "free text" in data.plan.dropped["comment"] and "identifier" in data.plan.dropped["name"]


def test_scoring_reads_a_raw_csv_as_training_read_it(tmp_path):
    """Late first values, codes and timestamps give the model the same values on both sides."""
    path = tmp_path / "traits.csv"
    table = real_world_traits()
    table.to_csv(path, index=False)
    data = validate_training_frame(load_frame(str(path), Clients()).frame, "label", 0.2)
    expected = feature_frame(load_frame(str(path), Clients()).frame, data.plan)
    kinds = {n: "numeric" if k == "numeric" else "categorical" for n, k in data.plan.kinds.items()}  # signature view
    stream = stream_features(str(path), kinds, None, 5_000, lambda schema, source: None, Clients())
    scored = pd.concat([features for _, features in stream.batches()], ignore_index=True)
    pd.testing.assert_frame_equal(scored, expected, check_dtype=False)


def test_a_category_that_was_text_keeps_its_spelling_in_a_batch_of_number_like_values(tmp_path):
    """`1.50` of a text column at training reaches the model as `1.50`, also from a scoring batch
    whose values all look like numbers (typed alone, that batch would say `1.5`: unseen)."""
    path = tmp_path / "grades.csv"
    rng = np.random.default_rng(0)
    grades = [*rng.choice(["1.50", "2.00"], 3_000), *rng.choice(["1.50", "2.00", "A", "B"], 3_000)]
    pd.DataFrame({"grade": grades, "x": rng.normal(size=6_000), "y": rng.choice(["a", "b"], 6_000)}).to_csv(
        path, index=False
    )
    data = validate_training_frame(load_frame(str(path), Clients()).frame, "y", 0.2)
    assert data.plan.text == {"grade"}
    expected = feature_frame(load_frame(str(path), Clients()).frame, data.plan)
    profile = build_profile(expected, data.plan.kinds, data.labels, text=data.plan.text)
    model = ResolvedModel("m", "m", "1", None, None, ["grade", "x"], profile, {"grade": "categorical", "x": "numeric"})
    assert model.text_categories == {"grade"}

    def scored(text):
        stream = stream_features(str(path), model.feature_kinds, None, 1_000, lambda s, u: None, Clients(), text=text)
        return pd.concat([features for _, features in stream.batches()], ignore_index=True)

    pd.testing.assert_frame_equal(scored(model.text_categories), expected, check_dtype=False)
    assert set(scored(())["grade"][:1_000]) == {"1.5", "2"}  # what a model without the mark gets


def test_only_real_text_is_marked_text_not_booleans_or_numbers_with_blanks(tmp_path):
    """true/false with blanks is typed boolean (pandas holds it as objects): scoring must keep
    typing it, or `True` would reach a model that learnt `true`."""
    path = tmp_path / "flags.csv"
    rng = np.random.default_rng(1)
    flags, codes = rng.choice(["True", "False", ""], 600), rng.choice(["A1", "B2", ""], 600)
    pd.DataFrame({"flag": flags, "code": codes, "x": rng.normal(size=600), "y": rng.choice(["a", "b"], 600)}).to_csv(
        path, index=False
    )
    frame = load_frame(str(path), Clients()).frame
    data = validate_training_frame(frame, "y", 0.2, categorical=("flag",))
    assert data.plan.kinds["flag"] == "categorical" and data.plan.text == {"code"}
    expected = feature_frame(frame, data.plan)
    assert set(expected["flag"].dropna()) == {"true", "false"}
    kinds = {"flag": "categorical", "code": "categorical", "x": "numeric"}
    stream = stream_features(str(path), kinds, None, 200, lambda s, u: None, Clients(), text=data.plan.text)
    scored = pd.concat([features for _, features in stream.batches()], ignore_index=True)
    pd.testing.assert_frame_equal(scored, expected[list(kinds)], check_dtype=False)


def test_scoring_names_a_text_value_in_a_number_column_with_its_data_row(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"a": ["1"] * 30_000 + ["lots"]}).to_csv(path, index=False)
    stream = stream_features(str(path), {"a": "numeric"}, None, 10_000, lambda schema, source: None, Clients())
    with pytest.raises(DataError, match=r"has text value 'lots' at data row 30001"):
        list(stream.batches())


def test_a_folder_whose_files_disagree_on_columns_is_refused_naming_the_odd_file(tmp_path):
    folder = tmp_path / "input"
    folder.mkdir()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(folder / "part-1.parquet")
    pd.DataFrame({"a": [5.0]}).to_parquet(folder / "part-2.parquet")  # b would be read as blanks
    with pytest.raises(DataError) as refused:
        stream_features(str(folder), {"a": "numeric", "b": "numeric"}, None, 100, lambda s, u: None, Clients())
    assert "part-2.parquet has other columns than" in refused.value.headline
    assert "lacks ['b']" in refused.value.headline


def test_a_damaged_parquet_file_in_a_folder_is_one_line_naming_it(tmp_path):
    folder = tmp_path / "input"
    folder.mkdir()
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(folder / "good.parquet")
    (folder / "torn.parquet").write_bytes(b"PAR1" + b"\0" * 16 + b"PAR1")
    with pytest.raises(DataError) as refused:
        stream_features(str(folder), {"a": "numeric"}, None, 100, lambda s, u: None, Clients())
    assert "torn.parquet" in refused.value.headline
    assert "damaged file" in refused.value.fix
