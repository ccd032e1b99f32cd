"""When a forest is compiled, and the compiled library shipped with a model: used only when
verified and built for this platform, else one line and the fallback."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pytest

from mlplatform.clients import Clients
from mlplatform.data.sizes import SAMPLE_BYTES, expected_rows, rows_from_sample
from mlplatform.scoring import prebuilt
from mlplatform.scoring.compile_rule import ForestSize, choose, compile_seconds, forest_size, pays_at_training
from mlplatform.scoring.compiled import CompiledClassifier
from tests.support.tables import penguins_like
from tests.unit.test_compiled import rows_with_blanks_and_unseen, trained

IRIS_LIKE = ForestSize(trees=100, nodes=1_500, depth=4.0)  # the demo forest: shallow trees
MOVIES_LIKE = ForestSize(trees=100, nodes=168_000, depth=10.7)  # 100 trees, depth 10, 58,788 rows


@pytest.mark.parametrize(
    ("rows", "size", "action"),
    [
        (1_000, IRIS_LIKE, "plain"),  # small input
        (58_788, MOVIES_LIKE, "plain"),  # mid-size file, large forest: minutes of compile for seconds
        (3_000, MOVIES_LIKE, "plain"),
        (None, IRIS_LIKE, "plain"),  # unknown row count never compiles
        (5_000_000, MOVIES_LIKE, "plain"),  # ~14 s saved does not pay ~51 s of compile twice over
        (100_000_000, MOVIES_LIKE, "compile"),
        (10_000_000, IRIS_LIKE, "compile"),
    ],
)
def test_compile_only_when_the_rows_pay_twice_for_the_forest(rows, size, action):
    assert choose("auto", rows, size, cores=2, prebuilt=False).action == action


def test_a_library_from_training_is_used_and_never_or_always_are_obeyed():
    assert choose("auto", 10, MOVIES_LIKE, 2, prebuilt=True).action == "prebuilt"
    assert choose("never", 10**9, IRIS_LIKE, 2, prebuilt=True).action == "plain"
    assert choose("always", 10, MOVIES_LIKE, 2, prebuilt=False).action == "compile"


def test_compile_time_grows_with_nodes_and_shrinks_with_cores():
    assert compile_seconds(MOVIES_LIKE, 2) > 30 * compile_seconds(IRIS_LIKE, 2)
    assert compile_seconds(MOVIES_LIKE, 8) < compile_seconds(MOVIES_LIKE, 2)


def test_training_compiles_when_the_daily_volume_pays_for_it():
    assert pays_at_training(1_000_000, IRIS_LIKE, 2).action == "compile"
    assert pays_at_training(1_000, IRIS_LIKE, 2).action == "plain"
    assert pays_at_training(None, IRIS_LIKE, 2).action == "plain"
    assert pays_at_training(60_000, MOVIES_LIKE, 2).action == "plain"


def test_the_size_of_a_fitted_forest():
    model, _ = trained(penguins_like(), "species")
    size = forest_size(model[-1])
    assert size is not None and size.trees == 20
    assert size.nodes == sum(tree.tree_.node_count for tree in model[-1].estimators_)
    assert 1 <= size.depth <= 10
    assert forest_size(model) is None  # a pipeline is not a forest


def test_csv_rows_are_estimated_from_size_and_a_sample(tmp_path):
    lines = [b"a,b,c"] + [f"{i},{i * 2.5},label{i % 7}".encode() for i in range(50_000)]
    body = b"\n".join(lines) + b"\n"
    (tmp_path / "one.csv").write_bytes(body)
    (tmp_path / "two.csv").write_bytes(body)
    files = (str(tmp_path / "one.csv"), str(tmp_path / "two.csv"))
    estimate = expected_rows(None, str(tmp_path), files, Clients())
    assert estimate is not None and abs(estimate - 100_000) / 100_000 < 0.1
    assert expected_rows(123, str(tmp_path), files, Clients()) == 123  # Parquet: the footers' count
    assert expected_rows(None, None, (), Clients()) is None  # generated rows know their count
    assert rows_from_sample(b"a,b\n1,2\n3,4\n", 12, 1) == 2  # a whole small file
    assert rows_from_sample(b"x" * SAMPLE_BYTES, 10 * SAMPLE_BYTES, 1) == 10  # no newline: a guess


@pytest.fixture
def shipped(tmp_path: Path):
    model, data = trained(penguins_like(), "species")
    folder = tmp_path / "model" / prebuilt.PREBUILT_DIR
    assert prebuilt.prebuild(model, folder, daily_rows=10**9, threads=1) is None
    return model, data, prebuilt.Prebuilt.read(tmp_path / "model")


def test_a_library_built_at_training_predicts_like_scikit_learn(shipped, caplog):
    model, data, library = shipped
    assert library is not None and library.record["machine"] and library.record["tl2cgen"] == "1.0.0"
    with caplog.at_level(logging.INFO, logger="mlplatform"):
        choice = prebuilt.plan(model, library, rows=10, mode="auto", threads=1, label="m v1")
    assert choice.action == "prebuilt"
    scoring = prebuilt.apply(choice, model, library, Path("unused"), threads=1)
    assert isinstance(scoring, CompiledClassifier)
    raw = rows_with_blanks_and_unseen(data)
    assert np.array_equal(scoring.predict_proba(raw), model.predict_proba(raw)) and scoring.native


def test_a_library_for_another_platform_falls_back_with_one_line(shipped, caplog):
    model, _, library = shipped
    foreign = prebuilt.Prebuilt(library.record | {"machine": "aarch64"}, library.library)
    with caplog.at_level(logging.INFO, logger="mlplatform"):
        choice = prebuilt.plan(model, foreign, rows=3_000, mode="auto", threads=1, label="m v1")
    assert choice.action == "plain"
    records = [r for r in caplog.records if r.name.startswith("mlplatform")]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "aarch64" in records[0].getMessage() and "scikit-learn" in records[0].getMessage()
    # large enough to pay: it compiles for this machine instead, still in one line
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mlplatform"):
        assert prebuilt.plan(model, foreign, 10**10, "auto", 1, "m v1").action == "compile"
    assert len([r for r in caplog.records if r.name.startswith("mlplatform")]) == 1


def test_a_library_that_does_not_match_its_record_is_not_loaded(shipped, caplog):
    model, _, library = shipped
    tampered = bytearray(library.library)
    tampered[len(tampered) // 2] ^= 0xFF
    swapped = prebuilt.Prebuilt(library.record, bytes(tampered))
    with caplog.at_level(logging.WARNING):
        assert prebuilt.load_prebuilt(model, swapped, threads=1) is model
    assert "does not match its record" in caplog.text


def test_compiling_prints_nothing_and_logs_tl2cgen_at_debug_level(tmp_path, capfd, caplog):
    model, _ = trained(penguins_like(seed=3), "species")
    with caplog.at_level(logging.DEBUG, logger="mlplatform"):
        assert prebuilt.prebuild(model, tmp_path / "c", daily_rows=10**9, threads=1) is None
    printed = capfd.readouterr()
    # nothing native reached the terminal (a log handler another test left may show the records)
    assert printed.out == ""
    assert not re.search(r"^(Currently running Treelite|\[\d\d:\d\d:\d\d\] /)", printed.err, re.MULTILINE)
    assert "tl2cgen:" in caplog.text and "Treelite version" in caplog.text


def test_no_library_is_built_when_the_volume_does_not_pay(tmp_path):
    model, _ = trained(penguins_like(), "species")
    why = prebuilt.prebuild(model, tmp_path / "c", daily_rows=1_000, threads=1)
    assert why is not None and "less than" in why and not (tmp_path / "c").exists()
    assert prebuilt.Prebuilt.read(tmp_path) is None


def test_a_library_loads_with_more_threads_asked_than_the_process_may_use(shipped, monkeypatch):
    model, data, library = shipped
    from mlplatform.scoring.compiled import usable_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_threads(64) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert usable_threads(10_000) == len(os.sched_getaffinity(0))  # taskset / a container's cpuset
    loaded = prebuilt.load_prebuilt(model, library, threads=10_000)  # tl2cgen would refuse 10,000
    raw = rows_with_blanks_and_unseen(data, 500)
    assert np.array_equal(loaded.predict_proba(raw), model.predict_proba(raw))
