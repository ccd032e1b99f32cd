"""The scheduler as a user runs it: a real daemon process on a rate(1 minute) schedule, the lock,
SIGTERM handling; the subprocess runner; backfill; `schedule next` and `runs`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlplatform.schedules.history import RunHistory

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
pytestmark = pytest.mark.usefixtures("trained")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_daemon_runs_on_schedule_refuses_a_second_daemon_and_stops_cleanly_on_sigterm(isolated_env, tmp_path):
    env = os.environ | {
        "MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE": "rate(1 minute)",
        "MLPLATFORM_SCHEDULE__TRAINING_ENABLED": "false",
        "MLPLATFORM_SCHEDULE__SHUTDOWN_GRACE_S": "0",
        "MLPLATFORM_INFERENCE__ROWS": "4000000",  # long enough to be stopped mid-run
    }
    log = open(tmp_path / "daemon.log", "w")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen([MLPLATFORM, "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for((isolated_env / "locks" / "scheduler.lock").exists, 30, "the daemon lock")
        second = subprocess.run([MLPLATFORM, "scheduler"], env=env, capture_output=True, text=True, timeout=60,
                                check=False)  # fmt: skip
        assert second.returncode == 1
        assert "already running" in second.stderr

        history = RunHistory(isolated_env / "runs.db")
        running = wait_for(lambda: [r for r in history.list() if r.status == "running"], 90, "a scheduled run")
        assert running[0].pipeline == "inference" and running[0].trigger == "schedule"
        time.sleep(2)  # the child is scoring now
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        log.close()
    output = (tmp_path / "daemon.log").read_text()
    assert "event=stop_requested signal=SIGTERM" in output and "event=scheduler_stopped" in output
    record = history.list()[0]
    assert record.status == "interrupted"
    date_dir = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={record.logical_date}"
    assert not (date_dir / "_SUCCESS").exists()

    shown = subprocess.run([MLPLATFORM, "runs", "--json"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout)[0]["status"] == "interrupted"


def test_subprocess_runner_reports_success_with_the_mlflow_run_id(isolated_env):
    from mlplatform.flows.scheduled import SubprocessRunner
    from mlplatform.flows.setup import load_settings

    runner = SubprocessRunner(load_settings(), grace_s=5)
    result = runner("inference", "2026-11-10", threading.Event())
    assert result.status == "succeeded", result.error
    manifest = json.loads(
        (isolated_env / "data/iris/inference-output/model=iris-model/date=2026-11-10/_SUCCESS").read_text()
    )
    assert result.mlflow_run_id == manifest["inference_run_id"]


def test_subprocess_runner_reports_the_error_line(isolated_env, monkeypatch):
    from mlplatform.flows.scheduled import SubprocessRunner
    from mlplatform.flows.setup import load_settings

    monkeypatch.setenv("MLFLOW_MODEL_URI", "models:/iris-model@missing")
    result = SubprocessRunner(load_settings(), grace_s=5)("inference", "2026-11-10", threading.Event())
    assert result.status == "failed"
    assert "has no alias 'missing'" in result.error and "exit 2" in result.error


def test_backfill_runs_each_date_in_order_and_is_idempotent(cli, isolated_env):
    first = cli("backfill", "--pipeline", "inference", "--from", "2026-11-01", "--to", "2026-11-03")
    assert first.exit_code == 0, first.output
    root = isolated_env / "data/iris/inference-output/model=iris-model"
    manifests = {d: json.loads((root / f"date={d}" / "_SUCCESS").read_text()) for d in
                 ("2026-11-01", "2026-11-02", "2026-11-03")}  # fmt: skip
    again = cli("backfill", "--from", "2026-11-01", "--to", "2026-11-04")
    assert again.exit_code == 0, again.output
    for logical_date, manifest in manifests.items():  # untouched: already complete
        assert json.loads((root / f"date={logical_date}" / "_SUCCESS").read_text()) == manifest
    assert (root / "date=2026-11-04" / "_SUCCESS").exists()
    forced = cli("backfill", "--from", "2026-11-02", "--to", "2026-11-02", "--force")
    assert forced.exit_code == 0
    assert json.loads((root / "date=2026-11-02" / "_SUCCESS").read_text()) != manifests["2026-11-02"]

    records = [(r.logical_date, r.status) for r in reversed(RunHistory(isolated_env / "runs.db").list())]
    assert records == [
        ("2026-11-01", "succeeded"), ("2026-11-02", "succeeded"), ("2026-11-03", "succeeded"),
        ("2026-11-01", "skipped"), ("2026-11-02", "skipped"), ("2026-11-03", "skipped"), ("2026-11-04", "succeeded"),
        ("2026-11-02", "succeeded"),
    ]  # fmt: skip


def test_backfill_stops_at_the_first_failure(cli, isolated_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_MODEL_URI", "models:/iris-model/7")
    result = cli("backfill", "--from", "2026-11-01", "--to", "2026-11-03")
    assert result.exit_code == 1
    records = RunHistory(isolated_env / "runs.db").list()
    assert [(r.logical_date, r.status) for r in records] == [("2026-11-01", "failed")]


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["backfill", "--from", "2026-11-05", "--to", "2026-11-01"], 2, "is before --from"),
        (["backfill", "--pipeline", "training", "--from", "2026-11-01", "--to", "2026-11-02"], 2, "cannot backfill"),
        (["schedule", "next", "rate(5 minute)"], 2, "a value above 1 takes the plural unit"),
        (["schedule", "next", "rate(1 day)", "--tz", "Nowhere/City"], 2, "unknown time zone"),
    ],
)
def test_bad_scheduling_input(cli, args, code, expected):
    result = cli(*args)
    assert result.exit_code == code
    assert expected in result.output


def test_schedule_next_prints_utc_timestamps(cli):
    result = cli("schedule", "next", "cron(0 6 * * ? *)", "--after", "2026-11-22T07:00:00Z", "-n", "2",
                 "--tz", "Europe/Berlin")  # fmt: skip
    assert result.exit_code == 0
    assert result.stdout.split() == ["2026-11-23T05:00:00Z", "2026-11-24T05:00:00Z"]


def test_schedules_come_from_settings(cli, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE", "cron(0 6 * * ? *)")
    shown = cli("schedule", "show")
    assert shown.exit_code == 0 and "cron(0 2 ? * SUN *)" in shown.output
    monkeypatch.setenv("MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE", "cron(0 6 * * * *)")
    bad = cli("schedule", "show")
    assert bad.exit_code == 2 and "exactly one of day-of-month and day-of-week" in bad.output
