"""The installed `mlplatform` command, run as a user runs it: a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLPLATFORM, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env or os.environ.copy(),
        cwd=cwd,
    )


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("train", "run", "model", "ui"):
        assert command in result.stdout


def test_train_on_a_user_csv_then_list_models(iris_csv, tmp_path):
    result = run("train", "--data", str(iris_csv), "--target", "label", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "iris-model v1" in result.stdout
    assert "mlplatform ui" in result.stdout
    listed = run("model", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"production"' in listed.stdout


def test_bad_input_exits_2_with_one_error_line(tmp_path):
    result = run("train", "--data", str(tmp_path / "missing.csv"))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert errors[0].startswith("Error: data not found: ")
    assert "Fix: " in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_is_usage_error():
    result = run("train", "--no-such-flag")
    assert result.returncode == 2
    assert "No such option" in result.stderr
