"""The data root is a trust boundary: a shared bucket or folder that several jobs and people can
write. Control files are input, not truth: every test plants what a careless or hostile writer
could leave there and checks that mlplatform refuses it in one line, exits non-zero and touches
nothing outside the output. Real files, real symlinks, the Kafka test broker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlplatform.clients import Clients
from mlplatform.sinks.committed import read_manifest
from tests.integration.test_scoring_sinks import consume_all

DATE = "2026-11-20"
pytestmark = pytest.mark.usefixtures("trained")


def model_folder(home: Path) -> Path:
    return home / "data/iris/inference-output/model=iris-model"


def date_folder(home: Path) -> Path:
    return model_folder(home) / f"date={DATE}"


def victim(tmp_path: Path) -> Path:
    """A file outside the data root that nothing may delete or publish."""
    folder = tmp_path / "outside"
    folder.mkdir(exist_ok=True)
    (folder / "precious.txt").write_text("do not delete")
    return folder / "precious.txt"


@pytest.fixture
def kafka(kafka_broker, monkeypatch):
    """Kafka configured: `publish` has a publisher to send with."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    return kafka_broker


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    return lines[0]


def test_a_manifest_part_pointing_outside_its_date_is_refused_and_nothing_is_deleted(
    cli, isolated_env, tmp_path, kafka
):
    precious = victim(tmp_path)
    assert cli("score", "--rows", "100", "--date", DATE).exit_code == 0
    success = date_folder(isolated_env) / "_SUCCESS"
    manifest = json.loads(success.read_text())
    relative = os.path.relpath(precious, date_folder(isolated_env))  # ../../../../outside/precious.txt
    manifest["parts"].append({"path": relative, "rows": 1, "bytes": 13, "sha256": "0" * 64})
    success.write_text(json.dumps(manifest))

    published = cli("publish", "--date", DATE, "--force")
    assert published.exit_code == 1
    line = one_line(published.output)
    assert f"{success} is corrupt: part '{relative}' points outside its date folder" in line
    checked = cli("check")
    assert checked.exit_code == 1 and f"FAIL control files: {success} is corrupt" in checked.output

    assert cli("score", "--rows", "100", "--date", DATE).exit_code == 0  # a re-score replaces it safely
    assert precious.read_text() == "do not delete"
    assert read_manifest(Clients(), str(date_folder(isolated_env)))["rows"] == 100


def test_a_manifest_naming_another_run_or_an_absolute_path_is_refused(cli, isolated_env, kafka):
    assert cli("score", "--rows", "50", "--date", DATE).exit_code == 0
    success = date_folder(isolated_env) / "_SUCCESS"
    good = json.loads(success.read_text())
    for tampered, problem in (
        ({"run": "run=../../x"}, "its run 'run=../../x' is not a run folder of this date"),
        ({"parts": [dict(good["parts"][0], path="/etc/passwd")]}, "part '/etc/passwd' points outside"),
        ({"parts": [dict(good["parts"][0], path="run=other/part-00000.parquet")]}, "is not inside the committed run"),
    ):
        success.write_text(json.dumps(good | tampered))
        result = cli("publish", "--date", DATE, "--force")
        assert result.exit_code == 1 and problem in one_line(result.output), result.output


def test_a_planted_pending_entry_cannot_make_the_sweep_delete_anything_outside(cli, isolated_env, tmp_path):
    precious = victim(tmp_path)
    pending = model_folder(isolated_env) / "_pending"
    pending.mkdir(parents=True)
    # content that names a run climbing out of the model folder, under an honest-looking name
    escape = os.path.relpath(precious.parent, model_folder(isolated_env) / "date=2026-11-01")
    (pending / "date=2026-11-01~run=abc.json").write_text(json.dumps({"date": "2026-11-01", "run_id": f"x/{escape}"}))
    (pending / "date=2026-11-02~run=...json").write_text("{}")  # a run id that is '..'
    result = cli("score", "--rows", "50", "--date", DATE)
    assert result.exit_code == 0, result.output
    assert precious.read_text() == "do not delete"
    assert sorted(p.name for p in pending.iterdir()) == ["date=2026-11-01~run=abc.json", "date=2026-11-02~run=...json"]
    assert "is corrupt: its content names another run than its file name" in result.output


def test_a_truncated_control_file_is_one_line_and_the_next_runs_go_on(cli, isolated_env, kafka):
    assert cli("score", "--rows", "50", "--date", DATE).exit_code == 0
    success = date_folder(isolated_env) / "_SUCCESS"
    success.write_text('{"run": "run=')  # a write cut short (a full disk, a killed copy)
    pending = model_folder(isolated_env) / "_pending"
    pending.mkdir()
    (pending / "date=2026-11-05~run=deadbeef.json").write_text("")  # a 0-byte entry left by ENOSPC

    published = cli("publish", "--date", DATE)
    assert published.exit_code == 1
    assert f"{success} is corrupt: not valid JSON (empty or truncated?)" in one_line(published.output)
    checked = cli("check")
    assert "FAIL control files:" in checked.output and "(and 1 more)" in checked.output

    other = cli("score", "--rows", "50", "--date", "2026-11-21")  # the model is not wedged
    assert other.exit_code == 0, other.output
    assert not (pending / "date=2026-11-05~run=deadbeef.json").exists()  # its name says enough to sweep it
    assert cli("score", "--rows", "50", "--date", DATE).exit_code == 0  # a re-score replaces the manifest
    assert "OK   control files" in cli("check").output


def test_publish_sends_nothing_when_a_committed_part_changed_or_is_missing(
    cli, isolated_env, kafka_broker, monkeypatch
):
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    assert cli("score", "--rows", "300", "--batch-size", "100", "--date", DATE).exit_code == 0  # files only
    folder = date_folder(isolated_env)
    manifest = json.loads((folder / "_SUCCESS").read_text())
    part = folder / manifest["parts"][1]["path"]
    table = pq.read_table(part)
    changed = table.set_column(
        table.schema.get_field_index("predicted_class"), "predicted_class", pa.array(["setosa"] * table.num_rows)
    )
    pq.write_table(changed, part)

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    result = cli("publish", "--date", DATE, "--force")
    assert result.exit_code == 1
    assert f"part {manifest['parts'][1]['path']} of {folder} does not match the SHA-256" in one_line(result.output)
    part.unlink()
    missing = cli("publish", "--date", DATE, "--force")
    assert missing.exit_code == 1 and "is missing (the manifest lists it)" in one_line(missing.output)
    assert consume_all(kafka_broker.bootstrap, "predictions", 0, timeout=3) == []


def test_symlinks_inside_the_data_root_are_refused(cli, isolated_env, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder = model_folder(isolated_env)
    folder.parent.mkdir(parents=True)
    folder.symlink_to(outside, target_is_directory=True)
    result = cli("score", "--rows", "50", "--date", DATE)
    assert result.exit_code == 1
    assert f"{folder} is a symbolic link inside the data root" in one_line(result.output)
    assert list(outside.iterdir()) == []  # nothing written through it

    folder.unlink()
    folder.mkdir()
    (folder / f"date={DATE}").symlink_to(outside, target_is_directory=True)
    assert cli("score", "--rows", "50", "--date", DATE).exit_code == 1
    assert list(outside.iterdir()) == []


def test_allowed_roots_are_checked_on_the_resolved_path(cli, tmp_path, monkeypatch):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "link").symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("MLPLATFORM_ALLOWED_ROOTS", json.dumps([str(allowed)]))
    result = cli("score", "--rows", "50", "--date", DATE, "--data-root", str(allowed / "link"))
    assert result.exit_code == 2
    assert "is outside the allowed roots" in one_line(result.output)
    assert list(outside.iterdir()) == []


def test_a_version_registered_without_its_sha256_is_refused_unless_allowed(cli, embedded_client, monkeypatch):
    embedded_client().delete_model_version_tag("iris-model", "1", "mlplatform.model_sha256")
    refused = cli("score", "--rows", "20", "--date", DATE)
    assert refused.exit_code == 1
    assert "has no SHA-256 recorded at registration" in one_line(refused.output)
    assert "MLPLATFORM_ALLOW_UNVERIFIED_MODELS=true" in refused.output
    monkeypatch.setenv("MLPLATFORM_ALLOW_UNVERIFIED_MODELS", "true")
    assert cli("score", "--rows", "20", "--date", DATE).exit_code == 0


def test_a_partitioned_input_without_the_dates_partition_is_not_every_date(cli, isolated_env, tmp_path, monkeypatch):
    """It used to score every partition and commit them as the date asked for."""
    from tests.support.fakes import iris_rows

    root = tmp_path / "incoming"
    for day in ("2026-11-18", "2026-11-19"):
        (root / f"date={day}").mkdir(parents=True)
        iris_rows(40).to_csv(root / f"date={day}" / "part.csv", index=False)
    result = cli("score", "--input", str(root), "--date", DATE)
    assert result.exit_code == 75
    assert f"has no date={DATE}/ partition (its dates run from 2026-11-18 to 2026-11-19)" in one_line(result.output)
    assert not date_folder(isolated_env).exists()
    monkeypatch.setenv("MLPLATFORM_INFERENCE__INPUT", str(root))
    backfill = cli("backfill", "--from", DATE, "--to", DATE)
    assert backfill.exit_code == 1 and not date_folder(isolated_env).exists()
    assert cli("score", "--input", str(root), "--date", "2026-11-19").exit_code == 0


def test_two_models_scored_for_one_date_into_one_topic_never_share_a_key(cli, isolated_env, kafka_broker, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    assert cli("train", "--model-name", "other-model", "-p", "n_estimators=5").exit_code == 0
    assert cli("score", "--rows", "100", "--date", DATE).exit_code == 0
    assert cli("score", "--rows", "100", "--date", DATE, "--model-name", "other-model").exit_code == 0
    keys = {m.key().decode() for m in consume_all(kafka_broker.bootstrap, "predictions", 200)}
    assert len(keys) == 200
    assert f"iris-model:{DATE}:0" in keys and f"other-model:{DATE}:0" in keys


def test_the_training_file_itself_can_be_scored(cli, isolated_env, tmp_path, iris):
    data = iris.assign(note="free text", id=range(len(iris)))
    data.to_csv(tmp_path / "train.csv", index=False)
    train = ["--data", str(tmp_path / "train.csv"), "--target", "species", "--id-column", "id"]
    trained = cli("train", *train, "--drop-columns", "note", "-p", "n_estimators=5")
    assert trained.exit_code == 0, trained.output
    scoring = ["--model-name", "train-model", "--input", str(tmp_path / "train.csv"), "--drop-columns", "note"]
    scored = cli("score", *scoring, "--date", DATE)
    assert scored.exit_code == 0, scored.output
    assert "column 'species' of" in scored.output and "is the model's target: not used for scoring" in scored.output


def test_a_promotion_interrupted_half_way_is_finished_by_the_next_run_or_check(cli, embedded_client, monkeypatch):
    """Killed after the alias moved but before the legacy stage followed (and the history row was
    closed): the intent recorded first lets `check` (or any next promotion) finish it."""
    from mlplatform.registry.mlflow.registered import RegisteredModel

    def killed(self, version, stage, archive_existing=False):
        raise KeyboardInterrupt  # the process dies here, mid-promotion

    monkeypatch.setenv("MLPLATFORM_PROMOTION__AUTO_PROMOTE", "false")
    assert cli("train", "-p", "n_estimators=5").exit_code == 0  # v2, a challenger
    with monkeypatch.context() as patch:
        patch.setattr(RegisteredModel, "_set_legacy_stage", killed)
        assert cli("model", "promote", "2", "--reason", "reviewed").exit_code != 0
    client = embedded_client()
    assert str(client.get_model_version_by_alias("iris-model", "production").version) == "2"
    assert client.get_model_version("iris-model", "1").current_stage == "Production"  # not yet in step
    assert "mlplatform.promotion_pending" in client.get_registered_model("iris-model").tags

    checked = cli("check")
    assert "OK   promotion: finished the interrupted manual of v2" in checked.output
    assert client.get_model_version("iris-model", "2").current_stage == "Production"
    assert "mlplatform.promotion_pending" not in client.get_registered_model("iris-model").tags
    history = cli("model", "history", "--json")
    moves = [e for e in json.loads(history.output) if e["alias"] == "production" and e["version"] == "2"]
    assert len(moves) == 1  # the move is recorded once, however often it is finished


def test_a_training_run_left_running_by_a_killed_scheduler_is_reconciled_from_the_registry(cli, isolated_env):
    from mlplatform.flows.scheduled import history_for, reconciler
    from mlplatform.flows.setup import load_settings

    settings = load_settings()
    history = history_for(settings)
    row = history.start("training", DATE, None, "schedule")
    assert cli("train", "-p", "n_estimators=5").exit_code == 0  # the run the daemon started, then died
    (record,) = [r for r in history.running() if r.id == row]
    detail, run_id = reconciler(settings, Clients())(record)
    assert detail == "reconciled from the registry: version 2 registered, gate decision promoted"
    assert run_id is not None
