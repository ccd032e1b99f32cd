"""Every bad training input: a one-line error naming the problem, exit code 2, nothing registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

GOOD = "a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20))


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


CASES = {
    "missing file": (lambda d: ["--data", str(d / "nope.csv")], "data not found"),
    "unreadable parquet": (lambda d: ["--data", write(d, "x.parquet", b"not parquet at all")], "cannot read"),
    "unsupported type": (lambda d: ["--data", write(d, "x.xlsx", "a")], "unsupported file type"),
    "empty data": (lambda d: ["--data", write(d, "e.csv", "a,b,label\n")], "the data is empty"),
    "target missing": (lambda d: ["--data", write(d, "t.csv", GOOD), "--target", "y"], "target column 'y' not found"),
    "mostly numeric feature with text": (
        lambda d: ["--data", write(d, "n.csv", GOOD.replace("\n5,2,", "\nfive,2,")), "--target", "label"],
        "feature 'a' is mostly numbers but has text values (e.g. 'five' at data row 6)",
    ),
    "blank label": (
        lambda d: ["--data", write(d, "blank.csv", GOOD.replace(",y\n", ", \n", 1)), "--target", "label"],
        "target column 'label' has 1 missing or blank labels",
    ),
    "regression on text": (
        lambda d: ["--data", write(d, "r.csv", GOOD), "--target", "label", "--task", "regression"],
        "is not numeric",
    ),
    "unknown column role": (
        lambda d: ["--data", write(d, "r.csv", GOOD), "--target", "label", "--drop-columns", "nope"],
        "column 'nope' not found",
    ),
    "unknown model family": (lambda d: ["--model", "xgboost"], "unknown model family 'xgboost'"),
    "single class": (
        lambda d: ["--data", write(d, "s.csv", GOOD.replace(",y\n", ",x\n")), "--target", "label"],
        "single class 'x'",
    ),
    "too few rows per class": (
        lambda d: ["--data", write(d, "f.csv", GOOD + "99,1,z\n"), "--target", "label"],
        "class 'z' of 'label' has only 1 row",
    ),
    "duplicate columns": (
        lambda d: ["--data", write(d, "d.csv", GOOD.replace("a,b,label", "a,a,label")), "--target", "label"],
        "duplicate column name 'a'",
    ),
    "unknown hyperparameter": (lambda d: ["-p", "n_trees=5"], "unknown hyperparameter 'n_trees'"),
    "invalid hyperparameter": (lambda d: ["-p", "criterion=best"], "invalid hyperparameter criterion='best'"),
    "malformed hyperparameter": (lambda d: ["-p", "max_depth"], "not of the form key=value"),
}


@pytest.fixture
def all_null_csv(tmp_path: Path) -> str:
    frame = pd.read_csv(pd.io.common.StringIO(GOOD))
    frame.insert(1, "empty", None)
    path = tmp_path / "null.csv"
    frame.to_csv(path, index=False)
    return str(path)


def assert_rejected(result, expected: str, embedded_client, isolated_env: Path) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert expected in errors[0]
    assert "Fix: " in result.output
    assert "Traceback" not in result.output
    if (isolated_env / "mlflow.db").exists():
        assert embedded_client().search_registered_models() == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_anything_is_logged(case, cli, tmp_path, embedded_client, isolated_env):
    make_args, expected = CASES[case]
    assert_rejected(cli("train", *make_args(tmp_path)), expected, embedded_client, isolated_env)
    assert not (isolated_env / "mlflow.db").exists()


def test_an_all_empty_column_is_left_out_with_a_warning(cli, all_null_csv):
    result = cli("train", "--data", all_null_csv, "--target", "label", "-p", "n_estimators=5")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "column 'empty' is not used as a feature: it has no values (all missing)" in said


def test_bad_input_after_a_good_run_registers_nothing_new(cli, tmp_path, embedded_client, isolated_env):
    assert cli("train", "-p", "n_estimators=5").exit_code == 0
    result = cli("train", "--data", str(tmp_path / "missing.parquet"))
    assert result.exit_code == 2
    versions = embedded_client().search_model_versions("name='iris-model'")
    assert [v.version for v in versions] == ["1"] or [str(v.version) for v in versions] == ["1"]


def test_unknown_environment_is_bad_usage(cli):
    result = cli("--env", "qa", "train")
    assert result.exit_code == 2
    assert "unknown environment 'qa'" in result.output


def test_verbose_shows_the_traceback(cli, tmp_path):
    result = cli("--verbose", "train", "--data", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "Traceback" in result.output
