"""Runs killed or raced mid-commit, with real processes: what is committed, what is swept, what
the next run or `check` does about it; and names that try to lead outside the data root."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlplatform.schedules.history import RunHistory

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
DATE = "2026-11-07"


def test_a_backfill_publishes_a_committed_but_unpublished_date_without_rescoring(
    cli, trained, monkeypatch, isolated_env
):
    from mlplatform.devstack.kafka_broker import mock_broker
    from tests.integration.test_scoring_sinks import topic_size

    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    folder = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={DATE}"
    with mock_broker({"predictions": 1}, produce_errors={29: 200}) as refusing:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", refusing.bootstrap)
        assert cli("score", "--rows", "3000", "--date", DATE).exit_code == 1
    committed = json.loads((folder / "_SUCCESS").read_text())
    with mock_broker({"predictions": 2}) as broker:
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap)
        result = cli("backfill", "--pipeline", "inference", "--from", DATE, "--to", DATE)
        assert result.exit_code == 0, result.output
        assert topic_size(broker.bootstrap, "predictions") == 3000
        again = cli("backfill", "--pipeline", "inference", "--from", DATE, "--to", DATE)
        assert "skipped" in again.output and topic_size(broker.bootstrap, "predictions") == 3000
    assert json.loads((folder / "_SUCCESS").read_text()) == committed  # published, not re-scored
    assert json.loads((folder / "_PUBLISHED").read_text())["inference_run_id"] == committed["inference_run_id"]


# --- crashes mid-commit on S3: the previous output stays readable until one atomic switch ---


def s3_env(home: Path) -> dict[str, str]:
    return os.environ | {"MLPLATFORM_HOME": str(home)}


def test_an_s3_run_killed_before_its_switch_keeps_the_previous_date_and_is_swept_later(
    cli, trained, s3_bucket, isolated_env
):
    """The S3 commit used to delete the old `_SUCCESS` and parts first, then copy the new ones."""
    import signal

    from mlplatform.clients import Clients
    from mlplatform.sinks.committed import committed_parts, read_manifest

    clients = Clients()
    root = f"s3://{s3_bucket}/out"
    folder = f"{root}/iris/inference-output/model=iris-model/date={DATE}"
    assert cli("score", "--rows", "3000", "--batch-size", "1000", "--date", DATE, "--data-root", root).exit_code == 0
    before = read_manifest(clients, folder)

    process = subprocess.Popen(
        [MLPLATFORM, "score", "--rows", "2000000", "--batch-size", "50000", "--date", DATE, "--data-root", root],
        env=s3_env(isolated_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    s3 = clients.boto3("s3")
    prefix = f"out/iris/inference-output/model=iris-model/date={DATE}/run="

    def new_parts() -> int:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=prefix).get("Contents", [])]
        return sum(1 for key in keys if before["run"] not in key)

    deadline = time.monotonic() + 120
    while new_parts() < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert read_manifest(clients, folder) == before  # the previous run is still the committed one
    filesystem = clients.s3_filesystem()
    for uri, part in zip(committed_parts(clients, folder), before["parts"], strict=True):
        with filesystem.open_input_stream(uri.removeprefix("s3://")) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == part["sha256"]
    pending = f"out/iris/inference-output/model=iris-model/_pending/date={DATE}~run="
    assert s3.list_objects_v2(Bucket=s3_bucket, Prefix=pending)["KeyCount"] == 1

    # the next run of the model, for any date, removes what the killed run left
    assert cli("score", "--rows", "100", "--date", "2026-11-08", "--data-root", root).exit_code == 0
    assert new_parts() == 0
    assert s3.list_objects_v2(Bucket=s3_bucket, Prefix=pending)["KeyCount"] == 0
    assert read_manifest(clients, folder) == before


def test_a_run_of_another_host_or_a_live_process_is_never_swept_as_abandoned(cli, trained, isolated_env):
    """Two SageMaker hosts write their shards under one prefix, each with its own locks: the first
    to finish used to take the other's run for abandoned and delete its parts mid-run."""
    from datetime import UTC, datetime, timedelta

    from mlplatform.clients import Clients
    from mlplatform.sinks.files import DatePartitionWriter

    model = isolated_env / "data/iris/inference-output/model=iris-model"
    sleeper = subprocess.Popen(["sleep", "60"])
    day_old = (datetime.now(UTC) - timedelta(hours=25)).isoformat(timespec="seconds")
    runs = {  # shard: what its _pending entry says about the run
        "host=algo-2": {"host": "ip-10-0-1-7", "started_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "host=algo-3": {"host": "ip-10-0-1-8", "started_at": day_old},
        "host=algo-4": {"pid": sleeper.pid},  # this machine, still running (another state directory)
        "host=algo-5": {"pid": 2**22 + 1},  # this machine, gone
    }
    for shard, says in runs.items():
        writer = DatePartitionWriter(Clients(), str(model / f"date={DATE}"), "parquet", shard[-1], shard=shard)
        writer.write_part(b"rows", 1)
        entry = model / "_pending" / f"date={DATE}~{shard}~run={shard[-1]}.json"
        entry.write_text(json.dumps(json.loads(entry.read_text()) | says))
    try:
        assert cli("score", "--rows", "100", "--date", "2026-11-08").exit_code == 0
    finally:
        sleeper.kill()
    left = sorted(p.parent.name for p in model.glob(f"date={DATE}/*/run=*"))
    assert left == ["host=algo-2", "host=algo-4"]  # young on another host, alive here
    assert len(list((model / "_pending").iterdir())) == 2


def test_an_s3_commit_never_overwrites_a_date_another_run_committed_meanwhile(s3_bucket):
    from mlplatform.clients import Clients
    from mlplatform.errors import PipelineError
    from mlplatform.sinks.committed import read_manifest
    from mlplatform.sinks.files import DatePartitionWriter

    clients = Clients()
    folder = f"s3://{s3_bucket}/out/p/inference-output/model=m/date={DATE}"
    slow = DatePartitionWriter(clients, folder, "parquet", "slow")
    slow.write_part(b"slow", 1)
    fast = DatePartitionWriter(clients, folder, "parquet", "fast")
    fast.write_part(b"fast", 1)
    fast.commit({"inference_run_id": "fast"})
    with pytest.raises(PipelineError, match=r"committed by another run \(fast\)"):
        slow.commit({"inference_run_id": "slow"})  # S3 refuses the conditional PUT
    assert read_manifest(clients, folder)["run"] == "run=fast"
    keys = [o["Key"] for o in Clients().boto3("s3").list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]]
    assert not [key for key in keys if "run=slow" in key]


# --- the scheduler killed with kill -9 mid-run ---


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_scheduler_killed_mid_run_takes_its_child_along_and_nothing_is_committed(trained, isolated_env, tmp_path):
    """The orphaned child used to finish and write `_SUCCESS` while history said interrupted."""
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_scheduler import wait_for

    fire = (datetime.now(UTC) + timedelta(seconds=6)).strftime("%Y-%m-%dT%H:%M:%S")
    env = os.environ | {
        "MLPLATFORM_HOME": str(isolated_env),
        "MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE": f"at({fire})",
        "MLPLATFORM_SCHEDULE__TRAINING_ENABLED": "false",
        "MLPLATFORM_INFERENCE__ROWS": "3000000",
    }
    with open(tmp_path / "daemon.log", "w") as log:
        daemon = subprocess.Popen([MLPLATFORM, "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            child = wait_for(lambda: children_of(daemon.pid), 60, "the scheduled run's process")[0]
            history = RunHistory(isolated_env / "runs.db")
            row = wait_for(lambda: [r for r in history.list() if r.status == "running"], 30, "the run's row")[0]
            time.sleep(3)  # the child is resolving the model or scoring
            assert alive(child)
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
            killed = time.monotonic()
            while alive(child) and time.monotonic() - killed < 10:
                time.sleep(0.05)
            assert not alive(child), "the child outlived the daemon"
            gone_after = time.monotonic() - killed
        finally:
            if daemon.poll() is None:
                daemon.kill()
    time.sleep(3)
    date_dir = isolated_env / "data/iris/inference-output/model=iris-model" / f"date={row.logical_date}"
    assert not (date_dir / "_SUCCESS").exists()
    assert gone_after < 5

    # the next daemon start closes the row it left: interrupted (nothing was committed)
    env["MLPLATFORM_SCHEDULE__INFERENCE_SCHEDULE"] = "cron(0 2 1 1 ? 2099)"
    restarted = subprocess.Popen([MLPLATFORM, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: RunHistory(isolated_env / "runs.db").list()[0].status != "running", 60, "reconciliation")
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=60)
    assert RunHistory(isolated_env / "runs.db").list()[0].status == "interrupted"


def test_check_reports_fires_missed_beyond_the_grace_period(cli, trained, isolated_env):
    from datetime import UTC, datetime, timedelta

    history = RunHistory(isolated_env / "runs.db")
    last = (datetime.now(UTC) - timedelta(days=4)).replace(hour=6, minute=0, second=0, microsecond=0)
    history.record("inference", last.date().isoformat(), last, "schedule", "succeeded")
    result = cli("check")
    assert result.exit_code == 1, result.output
    line = next(line for line in result.output.splitlines() if "schedule inference" in line)
    assert line.startswith("FAIL") and "fires missed beyond the 21600s grace period" in line, line
    first = (last + timedelta(days=1)).date().isoformat()
    assert f"mlplatform backfill --from {first} --to" in line
    assert "OK   model:" in result.output or "OK model:" in " ".join(result.output.split())


# --- path confinement ---

PATH_ESCAPES = {
    "project": (["score"], {"MLPLATFORM_PROJECT": "../x"}, "invalid setting project='../x'"),
    "model name": (["score", "--model-name", "../../etc"], {}, "invalid setting model_name='../../etc'"),
    "data root": (["score", "--data-root", "{home}/data/x/../../../escaped"], {}, "climbs back out of a folder"),
    "s3 input": (["score", "--input", "s3://bucket/in/../../x"], {}, "not a plain S3 location"),
    "outside the allowed roots": (
        ["score", "--data-root", "{home}/../elsewhere"], {"MLPLATFORM_ALLOWED_ROOTS": '["{home}"]'},
        "outside the allowed roots",
    ),
    "date": (["score", "--date", "../2026-11-01"], {}, "invalid --date"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(PATH_ESCAPES))
def test_names_and_locations_cannot_lead_outside_the_data_root(case, tmp_path):
    args, extra, expected = PATH_ESCAPES[case]
    home = tmp_path / "home"
    env = os.environ | {"MLPLATFORM_HOME": str(home)} | {k: v.format(home=home) for k, v in extra.items()}
    result = subprocess.run([MLPLATFORM, *(a.format(home=home) for a in args)], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing created, anywhere
