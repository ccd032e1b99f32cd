"""A forest compiled at training travels inside the registered model: covered by its SHA-256,
loaded by scoring without compiling, refused when tampered with."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.dataset as ds

from tests.integration.test_scoring_pipeline import DATE, date_dir, manifest


def test_training_compiles_for_the_expected_volume_and_scoring_only_loads_it(cli, isolated_env, embedded_client,
                                                                              monkeypatch):  # fmt: skip
    monkeypatch.setenv("MLPLATFORM_INFERENCE__DAILY_ROWS", "1000000")
    trained = cli("train", "-p", "n_estimators=20")
    assert trained.exit_code == 0, trained.output
    [library] = list((isolated_env / "artifacts").rglob("compiled/forest.so"))
    record = json.loads((library.parent / "compiled.json").read_text())
    assert record["tl2cgen"] == "1.0.0" and record["nodes"] > 0

    monkeypatch.delenv("MLPLATFORM_INFERENCE__DAILY_ROWS")
    scored = cli("score", "--rows", "3000", "--date", DATE, "--seed", "5")
    assert scored.exit_code == 0, scored.output
    assert "Compile model" not in scored.output  # nothing compiled in the scoring path
    assert not (isolated_env / "compiled").exists()  # nor cached
    run = embedded_client().get_run(manifest(isolated_env)["inference_run_id"])
    assert run.data.tags["predictor"] == "compiled"
    shipped = ds.dataset(str(date_dir(isolated_env))).to_table().to_pandas()

    monkeypatch.setenv("MLPLATFORM_INFERENCE__COMPILE", "never")
    assert cli("score", "--rows", "3000", "--date", "2026-11-02", "--seed", "5").exit_code == 0
    plain = ds.dataset(str(date_dir(isolated_env, "2026-11-02"))).to_table().to_pandas()
    columns = ["predicted_class", "proba_setosa", "proba_versicolor", "proba_virginica"]
    pd.testing.assert_frame_equal(shipped[columns], plain[columns])


def test_a_tampered_compiled_forest_is_refused_with_the_model(cli, isolated_env, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_INFERENCE__DAILY_ROWS", "1000000")
    assert cli("train", "-p", "n_estimators=20").exit_code == 0
    [library] = list((isolated_env / "artifacts").rglob("compiled/forest.so"))
    tampered = bytearray(library.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    library.write_bytes(bytes(tampered))

    result = cli("score", "--rows", "100", "--date", DATE)
    assert result.exit_code != 0
    assert "do not match the SHA-256 recorded when it was registered" in result.output
    assert not date_dir(isolated_env).exists()


def test_a_small_model_trained_for_a_small_volume_ships_no_library(cli, isolated_env):
    assert cli("train", "-p", "n_estimators=20").exit_code == 0  # default volume: 1,000 generated rows
    assert not list((isolated_env / "artifacts").rglob("compiled/forest.so"))
