"""Compiled forests predict exactly what scikit-learn predicts, or are not used."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from mlplatform.data.validation import validate_training_frame
from mlplatform.models import get_spec
from mlplatform.scoring.batch import accepts_missing, score_batch, task_of
from mlplatform.scoring.compiled import CompiledClassifier, CompiledRegressor, compile_model
from mlplatform.training import fit as training
from tests.support.tables import houses_like, penguins_like


def trained(table: pd.DataFrame, target: str, family: str = "random_forest", **params: str):
    data = validate_training_frame(table, target, 0.2)
    spec = get_spec(family)
    params = ({"n_estimators": "20"} if family == "random_forest" else {}) | params
    model, _ = training.fit(spec, spec.parse_params(params), data, data.features, data.labels)
    return model, data


def rows_with_blanks_and_unseen(data, count: int = 3000) -> pd.DataFrame:
    frame = data.features.sample(count, replace=True, random_state=1).reset_index(drop=True)
    for column in frame.columns:  # a blank in every column, and a category the model never saw
        frame.loc[frame.sample(frac=0.05, random_state=2).index, column] = None
    if "island" in frame:
        frame.loc[7, "island"] = "Atlantis"
    return frame


def test_a_compiled_classifier_gives_the_same_probabilities_on_raw_rows(tmp_path):
    model, data = trained(penguins_like(), "species")
    compiled = compile_model(model, tmp_path, threads=2)
    assert isinstance(compiled, CompiledClassifier)
    raw = rows_with_blanks_and_unseen(data)
    assert np.array_equal(compiled.predict_proba(raw), model.predict_proba(raw))
    assert compiled.native and compiled.checked  # the compiled path, not the fallback
    # what the scoring flow asks of a model still holds for the compiled one
    assert task_of(compiled) == "classification" and accepts_missing(compiled)
    assert list(compiled.classes_) == list(model.classes_)
    scored = score_batch(compiled, np.arange(len(raw)), raw, "classification", ["bill_length_mm", "body_mass_g"], True)
    assert len(scored) == len(raw)


def test_a_compiled_regressor_gives_the_same_values(tmp_path):
    model, data = trained(houses_like(), "price", max_depth="8")
    compiled = compile_model(model, tmp_path, threads=1)
    assert isinstance(compiled, CompiledRegressor) and task_of(compiled) == "regression"
    raw = rows_with_blanks_and_unseen(data)
    assert np.array_equal(compiled.predict(raw), model.predict(raw))


def test_the_library_is_compiled_once_per_forest_and_reused(tmp_path):
    model, _ = trained(penguins_like(), "species")
    compile_model(model, tmp_path, threads=1)
    libraries = list(tmp_path.glob("forest-*.so"))
    assert len(libraries) == 1
    before = libraries[0].stat().st_mtime_ns
    compile_model(model, tmp_path, threads=1)
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("forest-*.so")] == [before]
    other, _ = trained(penguins_like(seed=5), "species")
    compile_model(other, tmp_path, threads=1)
    assert len(list(tmp_path.glob("forest-*.so"))) == 2  # keyed by the trees, never shared


def test_a_disagreeing_library_is_never_used(tmp_path, caplog):
    model, data = trained(penguins_like(), "species")
    other = compile_model(trained(penguins_like(seed=9), "species")[0], tmp_path, threads=1)
    wrong = CompiledClassifier(model, other.predictor)  # another forest's library
    raw = rows_with_blanks_and_unseen(data)
    with caplog.at_level(logging.WARNING):
        assert np.array_equal(wrong.predict_proba(raw), model.predict_proba(raw))
    assert not wrong.native and "disagrees with scikit-learn" in caplog.text


def test_models_it_cannot_compile_are_scored_by_scikit_learn(tmp_path, monkeypatch):
    boosted, _ = trained(penguins_like(), "species", "hist_gradient_boosting", max_iter="20")
    assert compile_model(boosted, tmp_path, threads=1) is boosted
    forest, _ = trained(penguins_like(), "species")
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without gcc/clang/cc
    assert compile_model(forest, tmp_path, threads=1) is forest


@pytest.fixture(autouse=True)
def _quiet_sklearn_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield
