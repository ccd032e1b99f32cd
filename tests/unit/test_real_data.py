"""Mixed types, missing values, regression: the pipeline, its metrics, drift and generated rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import skops.io

from mlplatform.data.generator import generated_batches
from mlplatform.data.profile import build_profile, data_report_markdown
from mlplatform.data.validation import validate_training_frame
from mlplatform.models import get_spec
from mlplatform.registry.promotion import decide
from mlplatform.scoring.batch import score_batch
from mlplatform.scoring.drift import DriftAccumulator
from mlplatform.scoring.messages import RunStamp, prediction_documents, prediction_ids, prediction_table
from mlplatform.training import fit as training
from tests.support.tables import houses_like, penguins_like


@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting"])
def test_the_pipeline_takes_raw_columns_and_survives_serialisation(family):
    data = validate_training_frame(penguins_like(), "species", 0.2, id_column="penguin_id")
    assert data.plan.kinds == {
        "island": "categorical", "bill_length_mm": "numeric", "body_mass_g": "numeric", "sex": "categorical",
        "tagged": "categorical",
    }  # fmt: skip
    spec = get_spec(family)
    holdout = training.split(data, 0.2, 42)
    model, _ = training.fit(spec, spec.parse_params({}), data, holdout.x_train, holdout.y_train)
    assert training.evaluate(model, holdout.x_test, holdout.y_test, data).metrics["f1_macro"] > 0.9
    needed = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    assert set(needed) <= set(spec.trusted_types)  # what the registry adapter checks before logging
    loaded = skops.io.loads(skops.io.dumps(model), trusted=needed)
    raw = pd.DataFrame(
        {"island": ["Dream", "Atlantis", None], "bill_length_mm": [39.0, np.nan, 48.0],
         "body_mass_g": [3600.0, 5100.0, np.nan], "sex": ["female", None, "male"], "tagged": ["true", "false", None]}
    )  # fmt: skip
    assert np.array_equal(loaded.predict_proba(raw), model.predict_proba(raw))  # unseen 'Atlantis' is scored


def test_regression_metrics_and_the_gate_direction():
    data = validate_training_frame(houses_like(), "price", 0.25)
    assert data.task == "regression" and data.plan.categorical == ["district"]
    spec = get_spec("random_forest")
    holdout = training.split(data, 0.25, 0)
    good, _ = training.fit(spec, spec.parse_params({"n_estimators": 50}), data, holdout.x_train, holdout.y_train)
    weak, _ = training.fit(spec, spec.parse_params({"n_estimators": 1, "max_depth": 1}), data, holdout.x_train,
                           holdout.y_train)  # fmt: skip
    good_metrics = training.evaluate(good, holdout.x_test, holdout.y_test, data).metrics
    weak_rmse = training.score(weak, holdout.x_test, holdout.y_test, data, "rmse")
    assert set(good_metrics) == {"rmse", "mae", "r2"}
    assert good_metrics["r2"] > 0.8 and good_metrics["rmse"] < weak_rmse
    # lower RMSE is better: the good model replaces the weak champion, not the other way round
    assert decide(good_metrics["rmse"], "1", weak_rmse, metric="rmse", higher_is_better=False).promote
    assert not decide(weak_rmse, "1", good_metrics["rmse"], metric="rmse", higher_is_better=False).promote


def test_a_regressor_refuses_classifier_hyperparameters():
    from mlplatform.errors import ConfigError

    spec = get_spec("random_forest")
    with pytest.raises(ConfigError, match="criterion='gini' does not fit a regressor"):
        spec.build(spec.parse_params({"criterion": "gini"}), "regression", [])


def test_profile_and_report_describe_categories_and_missing_values():
    data = validate_training_frame(penguins_like(), "species", 0.2, id_column="penguin_id")
    profile = build_profile(data.features, data.plan.kinds, data.labels, target="species", id_column="penguin_id")
    island = profile["features"]["island"]
    assert island["kind"] == "categorical" and set(island["categories"]) == {"Biscoe", "Dream", "Torgersen"}
    assert profile["features"]["bill_length_mm"]["missing"] == pytest.approx(0.05)
    report = data_report_markdown(profile, {"note": "free text"})
    assert "| `island` | categorical | 0.0% | Biscoe" in report and "`note`: free text" in report
    json.dumps(profile)  # logged as JSON


def test_categorical_drift_counts_unseen_values_and_shifts():
    data = validate_training_frame(penguins_like(), "species", 0.2)
    profile = build_profile(data.features, data.plan.kinds, data.labels)
    same = DriftAccumulator(profile, data.feature_names, 0.2)
    same.update(data.features)
    island = next(f for f in same.report().features if f.feature == "island")
    assert island.psi < 0.01 and island.unseen == 0 and island.ks is None

    shifted = data.features.copy()
    shifted["island"] = ["Atlantis"] * 300 + ["Dream"] * (len(shifted) - 300)
    drifted = DriftAccumulator(profile, data.feature_names, 0.2)
    drifted.update(shifted)
    island = next(f for f in drifted.report().features if f.feature == "island")
    assert island.unseen == 300 and island.psi > 1 and "island" in drifted.report().drifted


def test_generated_rows_follow_category_frequencies_and_blanks():
    data = validate_training_frame(penguins_like(2000), "species", 0.2)
    profile = build_profile(data.features, data.plan.kinds, data.labels)
    _, rows = next(generated_batches(profile, data.feature_names, 20_000, 0, 20_000))
    shares = rows["island"].value_counts(normalize=True)
    for category, share in profile["features"]["island"]["categories"].items():
        assert shares[category] == pytest.approx(share, abs=0.02)
    assert rows["sex"].isna().mean() == pytest.approx(profile["features"]["sex"]["missing"], abs=0.01)
    assert rows["bill_length_mm"].isna().mean() == pytest.approx(0.05, abs=0.01)


def test_messages_carry_categories_missing_values_and_predicted_values():
    data = validate_training_frame(houses_like(), "price", 0.25)
    spec = get_spec("hist_gradient_boosting")
    model, _ = training.fit(spec, spec.parse_params({}), data, data.features, data.labels)
    rows = data.features.head(3).copy()
    rows.loc[0, "district"] = None
    rows.loc[1, "size_m2"] = np.nan
    scored = score_batch(model, np.array(["a", "b", 'c"q']), rows, "regression", ["size_m2", "rooms"], True)
    stamp = RunStamp("2026-11-22", "run", "houses-model", "1", "models:/houses-model/1", "t")
    table = prediction_table(stamp, prediction_ids(stamp.key_prefix, scored.row_ids), scored, data.feature_names, [])
    docs = [json.loads(d) for d in prediction_documents(stamp, table, data.feature_names, []).to_pylist()]
    assert docs[0]["features"]["district"] is None and docs[1]["features"]["size_m2"] is None
    assert docs[2]["row_id"] == 'c"q' and docs[2]["prediction_id"] == f'{stamp.model_name}:2026-11-22:c"q'
    assert all(isinstance(d["predicted_value"], float) for d in docs)
    assert "predicted_class" not in docs[0] and "probabilities" not in docs[0]
