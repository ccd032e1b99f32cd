"""Defaults that match what users mean: dates expanded in the model, categories capped (never a
crash at 255 levels), regression forests on all features, bounded forests, `--model auto`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io

from mlplatform.data.generator import generated_batches
from mlplatform.data.profile import build_profile, data_report_markdown
from mlplatform.data.validation import validate_training_frame
from mlplatform.errors import ConfigError
from mlplatform.models import get_spec
from mlplatform.models.auto import AUTO, CANDIDATES, LARGE_TABLE, choose
from mlplatform.models.random_forest import ROW_CAP
from mlplatform.training import fit as training
from tests.support.tables import real_world_traits


@pytest.fixture(scope="module")
def traits():
    return validate_training_frame(real_world_traits(6_000), "label", 0.2)


@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting"])
def test_dates_and_many_levels_are_encoded_inside_a_model_that_loads_back(traits, family):
    spec = get_spec(family)
    params = spec.parse_params({"n_estimators": 20} if family == "random_forest" else {"max_iter": 20})
    holdout = training.split(traits, 0.2, 0)
    model, _ = training.fit(spec, params, traits, holdout.x_train, holdout.y_train)
    assert training.evaluate(model, holdout.x_test, holdout.y_test, traits).metrics["f1_macro"] > 0.75
    notes = training.training_notes(spec, params, traits, model, len(holdout.x_train))
    assert notes["datetime.stamp"].endswith("year, month, day, hour, total_seconds, weekday")
    kept = 49 if family == "random_forest" else 254
    assert f"the {kept} most frequent encoded on their own" in notes["categories.tail"]
    needed = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    assert set(needed) <= set(spec.trusted_types)  # what the registry adapter checks before logging
    loaded = skops.io.loads(skops.io.dumps(model), trusted=needed)
    raw = holdout.x_test.head(3).copy()
    raw.loc[0, "stamp"], raw.loc[1, "stamp"], raw.loc[2, "tail"] = "not a date", None, "N9999Z"
    assert np.array_equal(loaded.predict(raw), model.predict(raw))  # bad dates and unseen codes still score


def test_gradient_boosting_caps_categories_at_its_bins_instead_of_crashing(traits):
    spec = get_spec("hist_gradient_boosting")
    params = spec.parse_params({"max_bins": 16, "max_iter": 5})
    model, _ = training.fit(spec, params, traits, traits.features, traits.labels)
    notes = training.training_notes(spec, params, traits, model, len(traits.labels))
    assert "the 15 most frequent" in notes["categories.tail"]


def test_regression_forests_use_every_feature_and_classifiers_the_square_root():
    spec = get_spec("random_forest")
    params = spec.parse_params({})
    assert spec.build(params, "regression", []).max_features == 1.0
    assert spec.build(params, "classification", []).max_features == "sqrt"
    assert spec.build(spec.parse_params({"max_features": "log2"}), "regression", []).max_features == "log2"


def test_forests_on_large_tables_grow_each_tree_on_a_bounded_sample():
    spec = get_spec("random_forest")
    params = spec.parse_params({})
    bounded, note = spec.for_rows(params, 250_000)
    assert spec.build(bounded, "regression", []).max_samples == ROW_CAP
    assert note is not None and f"{ROW_CAP:,} of the 250,000 training rows" in note
    assert spec.for_rows(params, 5_000) == (params, None)
    explicit = spec.parse_params({"max_samples": "None"})
    assert spec.for_rows(explicit, 250_000) == (explicit, None)


@pytest.mark.parametrize(
    ("given", "rows", "family", "why"),
    [
        ({}, LARGE_TABLE, "hist_gradient_boosting", "bounded"),
        ({"n_estimators": "300"}, 500_000, "random_forest", "n_estimators belong to random_forest"),
        ({"max_iter": "50"}, 100, "hist_gradient_boosting", "max_iter belong to hist_gradient_boosting"),
    ],
)
def test_auto_chooses_the_family_from_rows_or_from_the_hyperparameters_given(given, rows, family, why):
    spec, params, reason = choose(AUTO.parse_params(given), rows)
    assert spec.name == family and why in reason and params == spec.parse_params(given)
    assert {k: str(v) for k, v in AUTO.parse_params(given).model_dump().items()} == dict(given.items())
    assert AUTO.as_strings(AUTO.parse_params(given)) == given  # SageMaker passes only what was given


def test_auto_leaves_small_tables_to_a_comparison_on_the_training_split(traits):
    assert choose(AUTO.parse_params({}), LARGE_TABLE - 1) is None
    holdout = training.split(traits, 0.2, 42)
    spec, params, why = training.race(CANDIDATES, traits, holdout.x_train, holdout.y_train, 42)
    assert spec.name in ("random_forest", "hist_gradient_boosting") and params == spec.parse_params({})
    assert why.startswith("4,800 training rows: f1_macro on a quarter of the training split: random_forest 0.")
    assert "hist_gradient_boosting 0." in why


def test_auto_refuses_hyperparameters_no_family_takes():
    with pytest.raises(ConfigError, match="unknown hyperparameter 'n_trees'") as info:
        AUTO.parse_params({"n_trees": "3"})
    assert "--model" in info.value.fix


def test_datetime_features_are_profiled_reported_and_generated(traits):
    profile = build_profile(traits.features, traits.plan.kinds, traits.labels, target="label")
    stamp = profile["features"]["stamp"]
    assert stamp["kind"] == "datetime" and "categories" not in stamp
    assert "| `stamp` | datetime | 0.0% | 2013-01-01" in data_report_markdown(profile)
    _, rows = next(generated_batches(profile, traits.feature_names, 500, 0, 500))
    generated = pd.to_datetime(rows["stamp"], format="ISO8601", utc=True)
    assert generated.notna().all() and generated.dt.year.eq(2013).all()


def test_auto_is_settled_before_the_split_when_rows_decide():
    from mlplatform.flows.training import settle_family

    spec, params, note = settle_family(AUTO, AUTO.parse_params({}), training.train_rows(12_600, 0.2))
    assert spec.name == "hist_gradient_boosting" and params.random_state == 42
    assert note["model_family"].startswith("auto chose hist_gradient_boosting: 10,080 training rows")
    assert settle_family(AUTO, AUTO.parse_params({}), 1_047)[0] is AUTO  # the data decides, after the split
