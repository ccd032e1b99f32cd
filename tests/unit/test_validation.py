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


def test_boolean_features_are_categories():
    data = validate_training_frame(frame(**GOOD, flag=[True, False] * 3), "y", 0.34)
    assert data.plan.kinds["flag"] == "categorical"
    assert data.features["flag"].tolist() == ["true", "false"] * 3


def test_duplicate_column_names():
    table = pd.DataFrame([[1, 2, "x"]], columns=["a", "a", "y"])
    with pytest.raises(DataError, match="duplicate column name 'a'"):
        validate_training_frame(table, "y", 0.2)


@pytest.mark.parametrize(
    ("columns", "target", "headline", "fix"),
    [
        ({}, "y", "the data is empty", "header row"),
        ({"a": [], "y": []}, "y", "the data is empty (0 rows", "at least one labelled data row"),
        ({**GOOD}, "label", "target column 'label' not found (columns: a, b, y)", "--target"),
        ({"y": GOOD["y"]}, "y", "no feature columns", "add feature columns"),
        (
            {**GOOD, "y": ["x", None, "x", "z", " ", "z"]},
            "y",
            "'y' has 2 missing or blank labels (data rows 2, 5)",
            "--drop",
        ),
        (
            {"a": [*range(19), "red"], "y": ["x", "z"] * 10},
            "y",
            "feature 'a' is mostly numbers but has text values (e.g. 'red' at data row 20)",
            "--categorical a",
        ),
        ({**GOOD, "y": [1.0, 2.0, 3.0, 4.0, 5.0, np.inf]}, "y", "has 1 infinite values", "fix their labels"),
        ({**GOOD, "y": ["x"] * 6}, "y", "single class 'x'", "at least two classes"),
        ({**GOOD, "y": ["x", "x", "x", "z", "z", "w"]}, "y", "class 'w' of 'y' has only 1 row", "at least 2 rows"),
        ({"a": list(range(4)), "y": ["x", "x", "z", "z"]}, "y", "4 rows are too few for 2 classes", "test_size"),
        (
            {"a": list(range(6)), "y": ["x", "z"] * 3, "id": [1] * 6},
            "nope",
            "target column 'nope' not found",
            "--target",
        ),
    ],
)
def test_bad_tables_name_the_problem_and_the_fix(columns, target, headline, fix):
    with pytest.raises(DataError) as info:
        validate_training_frame(pd.DataFrame(columns), target, 0.2)
    assert headline in info.value.headline
    assert fix in info.value.fix
    assert "\n" not in info.value.headline


def test_text_and_missing_values_are_features_not_errors():
    table = frame(a=[1.0, np.nan, 3.0, 4.0, 5.0, 6.0], colour=["red", None, "blue", "red", " ", "blue"], y=GOOD["y"])
    data = validate_training_frame(table, "y", 0.34)
    assert data.plan.kinds == {"a": "numeric", "colour": "categorical"}
    assert data.features["colour"].tolist() == ["red", None, "blue", "red", None, "blue"]
    assert np.isnan(data.features["a"][1])


def test_identifier_and_free_text_columns_are_left_out_with_the_reason():
    rows = 40
    table = frame(
        customer=[f"c{i}" for i in range(rows)], number=list(range(100, 100 + rows)),
        note=[f"free text {i % 30}" for i in range(rows)], a=np.arange(rows) % 7, y=["x", "z"] * (rows // 2),
    )  # fmt: skip
    data = validate_training_frame(table, "y", 0.25)
    assert data.feature_names == ["a"]
    assert "identifier" in data.plan.dropped["customer"] and "identifier" in data.plan.dropped["number"]
    assert "free text" in data.plan.dropped["note"]
    roles = validate_training_frame(table, "y", 0.25, id_column="customer", drop=("number", "note"))
    assert roles.feature_names == ["a"] and roles.plan.dropped == {}


def test_unlabeled_rows_can_be_dropped_and_are_counted():
    table = frame(**{**GOOD, "y": ["x", None, "x", "z", "  ", "z"]}, extra=[1, 2, 3, 4, 5, 6])
    data = validate_training_frame(table, "y", 0.5, drop_unlabeled=True)
    assert data.unlabeled_dropped == 2 and len(data.labels) == 4


@pytest.mark.parametrize(
    ("target", "requested", "task"),
    [
        ([1.5, 2.25, 3.0, 4.0, 5.0, 6.0] * 2, "auto", "regression"),
        (list(range(30)), "auto", "regression"),
        ([0, 1] * 6, "auto", "classification"),
        (["a", "b"] * 6, "auto", "classification"),
        ([0, 1] * 6, "regression", "regression"),
        ([1.0, 2.0] * 6, "classification", "classification"),
    ],
)
def test_task_is_guessed_from_the_target_and_can_be_forced(target, requested, task):
    table = pd.DataFrame({"a": np.arange(len(target)) % 5, "y": target})
    assert validate_training_frame(table, "y", 0.5, task=requested).task == task


def test_regression_needs_a_numeric_target():
    with pytest.raises(DataError, match="is not numeric"):
        validate_training_frame(frame(**GOOD), "y", 0.34, task="regression")
