"""What users hit at the command line: unknown models, misspelt variables, JSON log lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))


@pytest.mark.parametrize("command", [["model", "list"], ["model", "history"], ["model", "rollback"]])
def test_commands_on_an_unknown_model_are_usage_errors(cli, trained, command):
    result = cli(*command, "--model-name", "nope")
    assert result.exit_code == 2, result.output
    assert "no registered model 'nope'" in result.output and "iris-model" in result.output


def test_a_misspelt_variable_gets_a_did_you_mean_warning(cli, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_MODLE_NAME", "churn")
    result = cli("config", "show")
    assert result.exit_code == 0
    said = " ".join(result.output.split())  # rich wraps log lines to the terminal
    assert "unknown environment variable MLPLATFORM_MODLE_NAME; did you mean MLPLATFORM_MODEL_NAME?" in said


def test_scheduler_json_logs_are_one_object_per_line(isolated_env, tmp_path):
    """Long values and a narrow terminal must not wrap or prefix the lines."""
    env = os.environ | {
        "MLPLATFORM_SCHEDULE__TRAINING_SCHEDULE": "at(2000-01-01T00:00:00)",
        "MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE": "at(2000-01-01T00:00:00)",
        "COLUMNS": "40",
    }
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        daemon = subprocess.Popen([MLPLATFORM, "scheduler", "--log-format", "json"], stderr=out, env=env)
    deadline = time.monotonic() + 60
    while "no_more_fires" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [e.get("event") for e in events if e.get("event")][-2:] == ["no_more_fires", "scheduler_stopped"]
    assert all({"ts", "level", "logger"} <= set(e) for e in events)
