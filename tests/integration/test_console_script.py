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
    # the UI hint is a command that works as printed: this program, this state directory
    assert f"{MLPLATFORM} --home {os.environ['MLPLATFORM_HOME']} ui" in result.stdout
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


def test_ui_serves_the_embedded_store(tmp_path, trained):
    from tests.integration.services import free_port, stop, wait_for_http

    port = free_port()
    log = tmp_path / "ui.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [MLPLATFORM, "ui", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process, log, timeout=90)
        import requests

        found = requests.get(f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/search", timeout=10).json()
        assert [m["name"] for m in found["registered_models"]] == ["iris-model"]
    finally:
        stop(process)


def test_ui_without_a_store_says_to_train_first():
    result = run("ui")
    assert result.returncode == 2
    assert "run `mlplatform train` first" in result.stderr


def test_config_show_applies_env_vars():
    env = os.environ | {"MODEL_NAME": "from-env", "MLPLATFORM_HYPERPARAMETERS__N_ESTIMATORS": "7"}
    result = run("--env", "staging", "config", "show", "--json", env=env, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    import json

    shown = json.loads(result.stdout)
    assert (shown["env"], shown["model_name"], shown["hyperparameters"]["n_estimators"]) == ("staging", "from-env", 7)
    assert shown["experiment_name"] == "iris-training-staging"
    sources = shown["sources"]
    assert sources["model_name"] == "env MODEL_NAME"
    assert sources["hyperparameters.n_estimators"] == "env MLPLATFORM_HYPERPARAMETERS__N_ESTIMATORS"
    assert sources["experiment_name"] == "config/staging.toml" and sources["env"] == "flag"
    assert sources["hyperparameters.min_samples_leaf"] == "default"

    table = run("--env", "staging", "config", "show", env=env, cwd=Path(__file__).parents[2])
    row = next(line for line in table.stdout.splitlines() if "model_name" in line)
    assert "from-env" in row and "env MODEL_NAME" in row


def test_the_command_exits_like_python_would_without_tearing_down_every_module():
    """`main` ends with os._exit (module teardown cost ~1 s): what a normal exit does still happens."""
    program = """
import atexit, threading, time
from concurrent.futures import ThreadPoolExecutor
from mlplatform.cli.app import exit_without_teardown
atexit.register(lambda: print("exit handler ran"))
threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished"))).start()
idle = ThreadPoolExecutor(1)  # left running, as MLflow's artifact downloads leave theirs
idle.submit(time.sleep, 0).result()
print("buffered output", end=" | ")
exit_without_teardown(75)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 75
    assert done.stdout == "buffered output | thread finished\nexit handler ran\n"
    message = subprocess.run([sys.executable, "-c", program.replace("(75)", '("stopped: why")')],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (message.returncode, message.stderr.strip()) == (1, "stopped: why")
