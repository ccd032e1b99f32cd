"""The PostgreSQL sink end to end, against Debian's PostgreSQL server: a scored date becomes
rows of one table, a re-run replaces them, a run that dies or fails leaves the old rows, and the
password never leaves the process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlplatform.clients import Clients
from mlplatform.sinks.committed import committed_parts, read_manifest

MLPLATFORM = str(Path(sys.executable).with_name("mlplatform"))
DATE = "2026-11-20"
DSN_VARIABLE = "MLPLATFORM_INFERENCE__POSTGRES__DSN"


def rows_of(postgres, table: str = "predictions", date: str = DATE) -> list[tuple]:
    import psycopg

    with psycopg.connect(postgres.dsn) as connection:
        query = f"SELECT prediction_id, version, predicted_class, probabilities, inference_run_id FROM {table} "
        query += "WHERE model = 'iris-model' AND date = %s ORDER BY prediction_id"
        return connection.execute(query, (date,)).fetchall()


@pytest.fixture
def table(postgres, monkeypatch, request) -> str:
    """A table of this test's own on the session's server, the DSN in the environment."""
    name = "p_" + request.node.name.lower().replace("-", "_")[:40].strip("_")
    monkeypatch.setenv(DSN_VARIABLE, postgres.keyword_dsn)
    monkeypatch.setenv("MLPLATFORM_INFERENCE__POSTGRES__TABLE", name)
    return name


def test_a_scored_date_becomes_rows_and_a_rerun_replaces_them(cli, trained, postgres, table, isolated_env):
    first = cli("score", "--rows", "500", "--date", DATE)
    assert first.exit_code == 0, first.output
    rows = rows_of(postgres, table)
    assert len(rows) == 500
    assert {version for _, version, *_ in rows} == {"1"}
    for _, _, predicted, probabilities, _ in rows:
        assert probabilities[predicted] == max(probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)

    folder = str(isolated_env / f"data/iris/inference-output/model=iris-model/date={DATE}")
    manifest = read_manifest(Clients(), folder)
    assert manifest["postgres"]["rows"] == 500 and manifest["postgres"]["table"] == table
    files = pq.read_table(committed_parts(Clients(), folder)).to_pydict()
    from_files = dict(zip(files["prediction_id"], files["predicted_class"], strict=True))
    assert {pid: predicted for pid, _, predicted, _, _ in rows} == from_files

    again = cli("score", "--rows", "500", "--seed", "3", "--date", DATE)
    assert again.exit_code == 0, again.output
    replaced = rows_of(postgres, table)
    assert [r[0] for r in replaced] == [r[0] for r in rows]  # same keys, never duplicated
    assert {r[4] for r in replaced} == {read_manifest(Clients(), folder)["inference_run_id"]} != {rows[0][4]}
    assert "replacing 500" in again.output

    everything = first.output + again.output + json.dumps(manifest)
    assert postgres.password not in everything


def test_a_run_that_fails_before_its_commit_leaves_the_old_rows(cli, trained, postgres, table, tmp_path):
    assert cli("score", "--rows", "300", "--date", DATE).exit_code == 0
    before = rows_of(postgres, table)
    drifted = tmp_path / "drifted.csv"  # fails after every sink staged its rows: at the drift verdict
    lines = "".join(f"{50 + i % 7},{30 + i % 5},{40 + i % 3},{20 + i % 4}\n" for i in range(200))
    drifted.write_text("sepal_length,sepal_width,petal_length,petal_width\n" + lines)
    failed = cli("score", "--input", str(drifted), "--date", DATE, "--fail-on-drift")
    assert failed.exit_code == 1 and "drifted" in failed.output
    assert rows_of(postgres, table) == before


def test_a_run_killed_mid_write_leaves_the_old_rows(cli, trained, postgres, table, isolated_env):
    import psycopg

    assert cli("score", "--rows", "300", "--date", DATE).exit_code == 0
    before = rows_of(postgres, table)
    env = os.environ | {"MLPLATFORM_HOME": str(isolated_env)}
    command = [MLPLATFORM, "score", "--rows", "3000000", "--batch-size", "20000", "--date", DATE]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    with psycopg.connect(postgres.dsn, autocommit=True) as watcher:
        # the run's own connection has loaded rows into its staging table: kill it mid-write
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            copies = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mlplatform' AND query LIKE 'COPY%%'"
            ).fetchone()[0]
            if copies:
                time.sleep(0.5)
                break
            time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)  # the server notices the closed connection and rolls its transaction back
    assert rows_of(postgres, table) == before
    assert cli("score", "--rows", "200", "--date", DATE).exit_code == 0  # nothing is left locked
    assert len(rows_of(postgres, table)) == 200


def test_check_names_the_table_and_an_unreachable_server_is_one_line(cli, trained, postgres, table, monkeypatch):
    result = cli("check")
    assert f"OK   postgres: {table} on 127.0.0.1:{postgres.port}/postgres (created at the first run)" in result.output
    monkeypatch.setenv(DSN_VARIABLE, f"postgresql://u:{postgres.password}@127.0.0.1:1/postgres")
    failed = cli("score", "--rows", "10", "--date", DATE)
    assert failed.exit_code == 1
    assert "PostgreSQL at 127.0.0.1:1/postgres is unreachable" in failed.output
    assert postgres.password not in failed.output


def test_the_connection_can_come_from_a_secrets_manager_secret(cli, trained, postgres, s3_bucket, monkeypatch):
    """RDS keeps its credentials as JSON in Secrets Manager (moto's server stands in here)."""
    secret = {"username": postgres.user, "password": postgres.password, "host": "127.0.0.1", "port": postgres.port}
    arn = Clients().boto3("secretsmanager").create_secret(Name="rds-db", SecretString=json.dumps(secret))["ARN"]
    monkeypatch.setenv("MLPLATFORM_INFERENCE__POSTGRES__SECRET_ARN", arn)
    monkeypatch.setenv("MLPLATFORM_INFERENCE__POSTGRES__TABLE", "from_secret")
    result = cli("score", "--rows", "50", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert len(rows_of(postgres, "from_secret")) == 50
    assert postgres.password not in result.output
