"""The README is part of the product: its configuration table must match the code."""

from pathlib import Path

import pytest

from mlplatform.config.reference import settings_reference

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_configuration_table():
    missing = [
        name for name, env, default, _ in settings_reference() if f"| `{name}` | `{env}` | `{default}` |" not in README
    ]
    assert missing == [], "run `mlplatform config reference` and paste it into the README"


def test_readme_quickstart_is_the_two_make_commands():
    assert "make run" in README and "make test" in README


def readme_commands() -> list[str]:
    """Every `mlplatform ...` command the README shows: code-block lines and inline examples."""
    import re

    found = []
    fenced = False
    for line in README.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        command = line.split("  #", 1)[0].strip()
        for part in command.split("&&") if fenced else ():
            shown = part.strip().removeprefix(".venv/bin/")
            if shown.startswith("mlplatform "):
                found.append(shown)
    # inline examples: complete commands only (not `a / b` alternatives, `[--opt]` notation,
    # `N` placeholders or a bare command name in a sentence)
    notation = re.compile(r"\[|\]| / |\||\b[A-Z]{1,4}\b(?!=)")
    for inline in re.findall(r"`((?:\.venv/bin/)?mlplatform [^`]+)`", README.replace("\n   ", " ")):
        command = inline.removeprefix(".venv/bin/")
        if not notation.search(command) and (" -" in command or len(command.split()) > 3):
            found.append(command)
    return found


def parse(arguments: list[str]) -> None:
    """What the shell would pass, checked by the CLI's own parser: commands, options, arguments
    (nothing runs)."""
    import typer.main

    from mlplatform.cli import app

    command = typer.main.get_command(app)
    name = "mlplatform"
    while True:
        context = command.make_context(name, list(arguments), resilient_parsing=False)
        if not hasattr(command, "resolve_command"):  # a command, not a group: parsed
            return
        rest = [*context._protected_args, *context.args]  # what follows the group's own options
        if not rest:
            return
        name, command, arguments = command.resolve_command(context, rest)  # type: ignore[assignment]


def test_every_command_the_readme_shows_parses():
    import shlex

    commands = readme_commands()
    assert len(commands) > 40
    refused = []
    for command in commands:
        if any(placeholder in command for placeholder in ("…", "...", "<", "VERSION ")):
            continue  # a sketch, not a command to copy
        try:
            parse(shlex.split(command)[1:])
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            if getattr(exc, "exit_code", None) != 0:  # --help and --version answer and stop: fine
                refused.append(f"{command}: {exc}")
    assert refused == []


@pytest.mark.parametrize(
    "command",
    [
        "mlplatform sagemaker params inference --date 2026-11-22 -p MlflowTrackingUri=arn:aws:sagemaker:us-east-1:"
        "123456789012:mlflow-tracking-server/iris -p InferenceImageUri=123456789012.dkr.ecr.us-east-1.amazonaws.com/"
        "mlplatform-inference:abc123",
        "mlplatform schedule next 'cron(0 6 * * ? *)' -n 3 --tz Europe/Berlin",
        "mlplatform sagemaker definition training",
        "mlplatform config show",
    ],
)
def test_the_offline_readme_commands_run_as_written(command):
    import shlex

    from typer.testing import CliRunner

    from mlplatform.cli import app

    assert command in readme_commands()
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
