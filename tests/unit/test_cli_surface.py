"""What a user sees of the CLI before anything runs: help, examples, the UI hint, log lines."""

from __future__ import annotations

import json
import logging
import re

import pytest
import typer
from typer.testing import CliRunner

from mlplatform.cli import app
from mlplatform.cli.logs import JsonLines
from mlplatform.cli.training import invoked_as

RUNNER = CliRunner()


def commands() -> list[tuple[str, ...]]:
    """Every command and command group as the argument path that reaches it."""
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(group: typer.core.TyperGroup, path: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            found.append((*path, name))
            if hasattr(command, "commands"):
                walk(command, (*path, name))

    walk(root, ())
    return found


def test_the_cli_has_the_commands_the_readme_lists():
    assert {"train", "run", "score", "check", "ui", "scheduler", "runs", "backfill"} <= {c[0] for c in commands()}
    assert {("model", "list"), ("config", "show"), ("schedule", "next"), ("sagemaker", "params")} <= set(commands())


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_command_has_an_example_and_keeps_every_help_word(path):
    result = RUNNER.invoke(app, [*path, "--help"])  # 80 columns, where long words get cut
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        for word in re.findall(r"[A-Za-z_]{3,}", getattr(param, "help", None) or ""):
            assert word in result.output, f"{' '.join(path)} --help lost {word!r} of {param.name}'s help"


def test_the_ui_hint_is_a_command_that_works_as_printed():
    on_path = {"mlplatform": "/usr/local/bin/mlplatform"}.get
    assert invoked_as(".venv/bin/mlplatform", which=on_path) == ".venv/bin/mlplatform"
    assert invoked_as("/usr/local/bin/mlplatform", which=on_path) == "mlplatform"
    assert invoked_as("/opt/venv/bin/python", which=on_path).endswith(" -m mlplatform")


def test_json_log_lines_are_one_object_each():
    formatter = JsonLines()
    record = logging.LogRecord("mlplatform.scheduler", logging.INFO, __file__, 1, "event=x", None, None)
    record.event = {"event": "run_started", "pipeline": "inference", "logical_date": "2026-11-22" * 20}
    line = formatter.format(record)
    assert "\n" not in line
    assert json.loads(line)["pipeline"] == "inference" and json.loads(line)["level"] == "info"
    plain = logging.LogRecord("mlplatform", logging.WARNING, __file__, 1, "drift in %s", ("a",), None)
    assert json.loads(formatter.format(plain))["message"] == "drift in a"
