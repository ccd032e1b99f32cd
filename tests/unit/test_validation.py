"""Data contracts for training input: each bad table fails with its own one-line error."""

import numpy as np
import pandas as pd
import pytest

from mlplatform.data.validation import validate_training_frame
from mlplatform.errors import DataError


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


GOOD = {"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [1, 2, 3, 4, 5, 6], "y": ["x", "x", "x", "z", "z", "z"]}


def test_valid_frame_gives_float_features_and_labels():
    data = validate_training_frame(frame(**GOOD), "y", 0.34)
    assert data.feature_names == ["a", "b"]
    assert data.features.dtypes.tolist() == [np.float64, np.float64]
    assert data.classes == ("x", "z")


def test_boolean_features_count_as_numeric():
    data = validate_training_frame(frame(**GOOD, flag=[True, False] * 3), "y", 0.34)
    assert data.features["flag"].tolist() == [1.0, 0.0] * 3


def test_duplicate_column_names():
    table = pd.DataFrame([[1, 2, "x"]], columns=["a", "a", "y"])
    with pytest.raises(DataError, match="duplicate column name 'a'"):
        validate_training_frame(table, "y", 0.2)


@pytest.mark.parametrize(
    ("columns", "target", "headline", "fix"),
    [
        ({}, "y", "the data is empty", "header row"),
        ({"a": [], "y": []}, "y", "the data is empty (0 rows", "at least one data row"),
        ({**GOOD}, "label", "target column 'label' not found (columns: a, b, y)", "--target"),
        ({"y": GOOD["y"]}, "y", "no feature columns", "numeric feature"),
        ({**GOOD, "y": ["x", None, "x", "z", "z", "z"]}, "y", "'y' has 1 missing values (first at row 2)", "drop"),
        (
            {**GOOD, "c": ["1", "2", "red", "4", "5", "6"]},
            "y",
            "feature 'c' is not numeric (e.g. 'red' at row 3)",
            "encode 'c'",
        ),
        ({**GOOD, "c": [None] * 6}, "y", "feature 'c' has no values", "drop the column 'c'"),
        (
            {**GOOD, "a": [1, np.nan, 3, 4, np.inf, 6]},
            "y",
            "feature 'a' has 2 NaN/inf values (first at row 2)",
            "drop or fill",
        ),
        ({**GOOD, "y": ["x"] * 6}, "y", "single class 'x'", "at least two classes"),
        ({**GOOD, "y": ["x", "x", "x", "z", "z", "w"]}, "y", "class 'w' of 'y' has only 1 row", "at least 2 rows"),
        ({"a": list(range(4)), "y": ["x", "x", "z", "z"]}, "y", "4 rows are too few for 2 classes", "test_size"),
        ({"a": list(range(60)), "y": [float(i) / 7 for i in range(60)]}, "y", "looks continuous", "categorical"),
    ],
)
def test_bad_tables_name_the_problem_and_the_fix(columns, target, headline, fix):
    with pytest.raises(DataError) as info:
        validate_training_frame(pd.DataFrame(columns), target, 0.2)
    assert headline in info.value.headline
    assert fix in info.value.fix
    assert "\n" not in info.value.headline
