"""A sink on its own, fed from an in-memory source: no MLflow, no scoring flow."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.ensemble import RandomForestClassifier

from mlplatform.clients import Clients
from mlplatform.scoring.batch import score_batch
from mlplatform.scoring.messages import RunStamp
from mlplatform.sinks import PredictionBatch, build_sinks
from mlplatform.sinks.committed import committed_parts
from mlplatform.sinks.files import FileSink

NAMES = ["a", "b"]
STAMP = RunStamp("2026-11-01", "run-1", "m", "3", "models:/m/3", "2026-11-01T06:00:00+00:00")


def batches(rows: int, size: int, bad_every: int = 0):
    """Scored batches of a tiny model, as the flow would hand them to sinks."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, (x[:, 0] > 0).astype(int))
    for start in range(0, rows, size):
        features = rng.normal(size=(min(size, rows - start), 2))
        if bad_every:
            features[::bad_every, 1] = np.nan
        ids = np.arange(start, start + len(features))
        scored = score_batch(model, ids, pd.DataFrame(features, columns=NAMES), "classification", NAMES, False)
        yield PredictionBatch(STAMP, scored, NAMES, [0, 1])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_file_sink_alone_stages_then_commits_with_its_manifest(tmp_path, fmt):
    sink = FileSink(Clients(), str(tmp_path), "p", "m", fmt)
    assert "is writable" in sink.check()
    sink.open(STAMP)
    for batch in batches(250, 100, bad_every=50):
        sink.write(batch)
    folder = tmp_path / "p/inference-output/model=m/date=2026-11-01"
    assert committed_parts(Clients(), str(folder)) == []  # nothing visible before commit
    result = sink.finish()
    sink.commit({"rows": 245, "kafka": {"delivered": 245}})
    assert result.section == {"uri": str(folder)}
    manifest = json.loads((folder / "_SUCCESS").read_text())
    assert manifest["format"] == fmt and manifest["kafka"] == {"delivered": 245}
    assert sum(part["rows"] for part in manifest["parts"]) == 245
    assert sum(part["rows"] for part in manifest["quarantine"]) == 5
    quarantine = (folder / manifest["quarantine"][0]["path"]).read_text(errors="replace")
    if fmt == "jsonl":  # quarantine parts are in the run's format, not CSV under a .jsonl name
        assert json.loads(quarantine.splitlines()[0])["reason"] == "b is null/NaN"
    if fmt == "parquet":
        assert (
            pq.read_table(folder / manifest["parts"][0]["path"]).column("prediction_id")[0].as_py() == "m:2026-11-01:1"
        )  # row 0 was quarantined


def test_file_sink_abort_leaves_nothing_and_keeps_the_previous_date(tmp_path):
    first = FileSink(Clients(), str(tmp_path), "p", "m", "parquet")
    first.open(STAMP)
    for batch in batches(10, 10):
        first.write(batch)
    first.finish()
    first.commit({"rows": 10})
    second = FileSink(Clients(), str(tmp_path), "p", "m", "parquet")
    second.open(RunStamp("2026-11-01", "run-2", "m", "4", "models:/m/4"))
    for batch in batches(30, 10):
        second.write(batch)
    second.abort()
    manifest = json.loads((tmp_path / "p/inference-output/model=m/date=2026-11-01/_SUCCESS").read_text())
    assert manifest["rows"] == 10
    folder = tmp_path / "p/inference-output/model=m/date=2026-11-01"
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "run=run-1"]
    assert not (tmp_path / "p/inference-output/model=m/_pending").exists()


def test_documents_are_built_once_for_every_sink_that_wants_them():
    batch = next(batches(5, 5))
    assert batch.documents is batch.documents
    first = json.loads(batch.documents[0].as_py())
    assert first["prediction_id"] == "m:2026-11-01:0" and first["model"]["version"] == "3"


def test_build_sinks_follows_the_settings(tmp_path):
    from mlplatform.flows.setup import load_settings

    names = [sink.name for sink in build_sinks(load_settings(), Clients())]
    assert names == ["storage"]
    kafka = load_settings(inference={"kafka": {"bootstrap_servers": "127.0.0.1:1"}})
    sinks = build_sinks(kafka, Clients())
    assert [sink.name for sink in sinks] == ["storage", "kafka"]
    assert [type(sink).__bases__[0].__name__ for sink in sinks] == ["Sink", "Publisher"]  # Kafka: after commit
