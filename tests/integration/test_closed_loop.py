"""Closing the loop, as a team would run it: predictions scored for three dates, labels arriving
late for some of them, realized quality against the reference, the label-free estimate beside
it, a degraded date that makes the retrain policy fire, the challenger scored in the shadow, and
events delivered to a webhook and a Kafka topic."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from mlplatform.data.loading import iris_frame
from tests.integration.services import free_port
from tests.integration.test_scoring_sinks import consume_all

DATES = ("2026-11-18", "2026-11-19", "2026-11-20")
pytestmark = pytest.mark.usefixtures("trained")


def iris_batch(seed: int, rows: int = 150) -> pd.DataFrame:
    """Measured flowers with their true species and a customer id."""
    frame = iris_frame().sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    return frame.assign(id=[f"f{seed}-{i:04d}" for i in range(rows)])


@pytest.fixture
def scored(cli, tmp_path) -> dict[str, pd.DataFrame]:
    """Three dates scored from files whose true species we know."""
    batches = {}
    for seed, day in enumerate(DATES):
        batch = iris_batch(seed)
        path = tmp_path / f"in-{day}.csv"
        batch.drop(columns="species").to_csv(path, index=False)
        result = cli("score", "--input", str(path), "--id-column", "id", "--date", day)
        assert result.exit_code == 0, result.output
        batches[day] = batch
    return batches


def write_labels(tmp_path: Path, name: str, frame: pd.DataFrame) -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def quality_rows(cli, *args: str) -> list[dict]:
    result = cli("quality", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_labels_late_and_early_give_realized_quality_per_date(cli, scored, tmp_path, isolated_env):
    first, _, third = DATES
    correct = scored[first][["id", "species"]].assign(date=first)
    wrong = scored[third][["id", "species"]].assign(date=third)
    wrong.loc[: len(wrong) * 2 // 3, "species"] = "setosa"  # two thirds labelled the same: the model looks bad
    both = pd.concat([correct, wrong])
    added = cli("labels", "add", "--input", write_labels(tmp_path, "labels.csv", both), "--id-column", "id")
    assert added.exit_code == 0, added.output
    assert f"{first}: 150 labels, 100.0% of 150 predictions, 0 unmatched (150 new, 0 replaced)" in added.output

    rows = {row["date"]: row for row in quality_rows(cli)}
    assert set(rows[first]) == {
        "date", "variant", "model_version", "predictions", "labels", "coverage", "metric", "value",
        "ci_low", "ci_high", "reference", "estimate", "status",
    }  # fmt: skip
    assert rows[first]["status"] == "ok" and rows[first]["metric"] == "f1_macro", json.dumps(rows[first])
    assert rows[first]["ci_low"] <= rows[first]["value"] <= rows[first]["ci_high"]
    assert rows[first]["reference"] is not None and rows[first]["estimate"] is not None
    assert rows[DATES[1]]["status"] == "no-labels" and rows[DATES[1]]["labels"] == 0
    assert rows[third]["status"] == "degraded" and rows[third]["value"] < 0.6

    # late labels for the middle date: only that date is computed again
    cache = isolated_env / "data/iris/monitoring/model=iris-model/quality"
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    late = scored[DATES[1]][["id", "species"]].head(100)
    again = cli(
        "labels", "add", "-i", write_labels(tmp_path, "late.csv", late), "--id-column", "id", "--date", DATES[1]
    )
    assert f"{DATES[1]}: 100 labels, 66.7% of 150 predictions" in again.output
    rows = {row["date"]: row for row in quality_rows(cli)}
    assert rows[DATES[1]]["status"] == "ok" and rows[DATES[1]]["labels"] == 100
    after = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {f"date={DATES[1]}~variant=champion.json"}

    # the same file again changes nothing; a corrected label replaces the old one
    assert "(no change)" in cli("labels", "add", "-i", str(tmp_path / "late.csv"), "--id-column", "id",
                                "--date", DATES[1]).output  # fmt: skip
    fixed = late.head(1).assign(species="virginica")
    replaced = cli("labels", "add", "-i", write_labels(tmp_path, "fix.csv", fixed), "--id-column", "id",
                   "--date", DATES[1])  # fmt: skip
    assert "(0 new, 1 replaced)" in replaced.output


def test_the_label_free_estimate_is_logged_with_every_run_and_meets_the_realized_value(
    cli, scored, tmp_path, embedded_client
):
    first = DATES[0]
    labels = scored[first][["id", "species"]]
    cli("labels", "add", "-i", write_labels(tmp_path, "l.csv", labels), "--id-column", "id", "--date", first)
    (row,) = quality_rows(cli, "--from", first, "--to", first)
    assert abs(row["estimate"] - row["value"]) < 0.15  # a 30-row holdout calibrates roughly
    client = embedded_client()
    experiment = client.get_experiment_by_name("iris-model-inference")
    runs = client.search_runs([experiment.experiment_id], f"tags.run_date = '{first}'")
    metrics = runs[0].data.metrics
    assert "estimated_accuracy" in metrics and "estimated_f1_macro" in metrics
    assert metrics["realized_f1_macro"] == pytest.approx(row["value"])  # logged on the date's run
    assert metrics["label_coverage"] == 1.0


@pytest.mark.parametrize(
    ("frame", "args", "message"),
    [
        (pd.DataFrame({"x": ["f0-0000"], "species": ["setosa"]}), ["--date", DATES[0]], "has no column 'id'"),
        (pd.DataFrame({"id": ["f0-0000", "f0-0000"], "species": ["setosa", "virginica"]}), ["--date", DATES[0]],
         "has two labels for row 'f0-0000' of 2026-11-18"),
        (pd.DataFrame({"id": ["nope-1", "nope-2"], "species": ["setosa", "setosa"]}), ["--date", DATES[0]],
         "none of the 2 labels"),
        (pd.DataFrame({"id": ["f0-0000"], "species": ["setosa"]}), [], "has no 'date' column"),
    ],
)  # fmt: skip
def test_a_bad_label_file_is_one_line_and_stores_nothing(cli, scored, tmp_path, isolated_env, frame, args, message):
    result = cli("labels", "add", "-i", write_labels(tmp_path, "bad.csv", frame), "--id-column", "id", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (isolated_env / "data/iris/labels").exists()


def test_a_degraded_date_makes_the_policy_retrain_and_says_why(cli, scored, tmp_path, monkeypatch):
    wrong = scored[DATES[2]][["id"]].assign(species="setosa")
    cli("labels", "add", "-i", write_labels(tmp_path, "w.csv", wrong), "--id-column", "id", "--date", DATES[2])
    waiting = cli("retrain", "explain", "--json")
    assert json.loads(waiting.output) == {"action": "wait", "reasons": []}  # no rule configured

    monkeypatch.setenv("MLPLATFORM_TRAINING__RETRAIN__ON_QUALITY_DROP", "true")
    explained = json.loads(cli("retrain", "explain", "--json").output)
    assert explained["action"] == "retrain"
    (reason,) = explained["reasons"]
    assert reason["rule"] == "on_quality_drop" and reason["fired"]
    assert reason["evidence"]["dates"][0]["date"] == DATES[2]

    checked = cli("retrain", "check")
    assert checked.exit_code == 0, checked.output
    assert "retrain: realized f1_macro" in checked.output and "trained version 2" in checked.output
    events = cli("events", "--type", "retrain_triggered", "--json").output.splitlines()
    assert len(events) == 1 and json.loads(events[0])["model"] == "iris-model"

    monkeypatch.setenv("MLPLATFORM_TRAINING__RETRAIN__COOLDOWN_DAYS", "1")
    cooling = cli("retrain", "check")
    assert cooling.output.startswith("cooldown:") and "trained version" not in cooling.output


def test_the_challenger_scores_in_the_shadow_and_never_reaches_the_topic(
    cli, tmp_path, isolated_env, kafka_broker, monkeypatch
):
    monkeypatch.setenv("MLPLATFORM_PROMOTION__AUTO_PROMOTE", "false")
    assert cli("train", "-p", "n_estimators=3", "-p", "max_depth=1").exit_code == 0  # v2: the challenger
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    batch = iris_batch(7)
    batch.drop(columns="species").to_csv(tmp_path / "in.csv", index=False)
    day = DATES[0]
    result = cli("score", "--input", str(tmp_path / "in.csv"), "--id-column", "id", "--date", day, "--shadow")
    assert result.exit_code == 0, result.output
    assert "Shadow" in result.output and "iris-model v2" in result.output
    model = isolated_env / "data/iris/inference-output/model=iris-model"
    assert (model / f"date={day}/_SUCCESS").exists()
    shadow = json.loads((model / f"variant=challenger/date={day}/_SUCCESS").read_text())
    assert shadow["variant"] == "challenger" and shadow["model"]["version"] == "2"
    keys = {m.key().decode() for m in consume_all(kafka_broker.bootstrap, "predictions", 150)}
    assert len(keys) == 150 and all(key.startswith(f"iris-model:{day}:") for key in keys)

    labels = batch[["id", "species"]]
    cli("labels", "add", "-i", write_labels(tmp_path, "l.csv", labels), "--id-column", "id", "--date", day)
    rows = quality_rows(cli)
    assert [(r["variant"], r["model_version"], r["labels"]) for r in rows] == [
        ("champion", "1", 150),
        ("challenger", "2", 150),
    ]
    compared = cli("model", "promote", "2", "--reason", "shadow looks fine")
    assert "on the same labelled rows" in compared.output


def test_a_failing_challenger_fails_only_the_shadow_part(cli, isolated_env, embedded_client, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_PROMOTION__AUTO_PROMOTE", "false")
    assert cli("train", "-p", "n_estimators=3").exit_code == 0
    embedded_client().delete_model_version_tag("iris-model", "2", "mlplatform.model_sha256")  # unverifiable
    result = cli("score", "--rows", "100", "--date", DATES[0], "--shadow")
    assert result.exit_code == 0, result.output
    assert "failed (the champion's output stands)" in result.output
    assert (isolated_env / f"data/iris/inference-output/model=iris-model/date={DATES[0]}/_SUCCESS").exists()
    failed = [json.loads(line) for line in cli("events", "--type", "scoring_failed", "--json").output.splitlines()]
    assert [e["details"]["variant"] for e in failed] == ["challenger"]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict, str]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.fail_first:
            _Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Receiver.received.append((json.loads(body), self.headers.get("X-Mlplatform-Signature", "")))
        signature = "sha256=" + hmac.new(b"hook-key", body, hashlib.sha256).hexdigest()
        self.send_response(
            204 if hmac.compare_digest(signature, self.headers.get("X-Mlplatform-Signature", "")) else 401
        )
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_events_reach_a_signed_webhook_and_a_kafka_topic_and_survive_an_outage(
    cli, isolated_env, kafka_broker, monkeypatch
):
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received, _Receiver.fail_first = [], 0
    monkeypatch.setenv("MLPLATFORM_EVENTS__WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    monkeypatch.setenv("MLPLATFORM_EVENTS__WEBHOOK_SECRET", "hook-key")
    monkeypatch.setenv("MLPLATFORM_EVENTS__RETRIES", "0")
    monkeypatch.setenv("MLPLATFORM_EVENTS__KAFKA_TOPIC", "events")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("KAFKA_TOPIC", "predictions")
    try:
        _Receiver.fail_first = 3  # the receiver is down for the training run's three events
        assert cli("train", "-p", "n_estimators=5").exit_code == 0
        assert "FAIL events webhook" in cli("check").output
        assert cli("score", "--rows", "20", "--date", DATES[0]).exit_code == 0  # it is back: the outbox drains
    finally:
        server.shutdown()
    types = [event["type"] for event, _ in _Receiver.received]
    assert types[:3] == ["version_registered", "gate_decided", "promoted"] or types[:2] == [
        "version_registered",
        "gate_decided",
    ]
    assert "scoring_committed" in types and len(types) == len(set(e["id"] for e, _ in _Receiver.received))
    assert all(signature.startswith("sha256=") for _, signature in _Receiver.received)
    on_topic = [json.loads(m.value()) for m in consume_all(kafka_broker.bootstrap, "events", len(types))]
    assert [e["type"] for e in on_topic] == types
    assert "OK   events webhook: 0 behind" in cli("check").output
