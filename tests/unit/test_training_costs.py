"""What keeps `train` close to the cost of the fit: bounded importances, deliberate threads,
a sampled signature that still tells which columns may be missing, a stage breakdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from mlplatform.data.validation import validate_training_frame
from mlplatform.flows.progress import StageTimes
from mlplatform.models import get_spec
from mlplatform.models.preprocessing import input_columns
from mlplatform.registry.mlflow.tracking import with_missing_values
from mlplatform.training import fit as training
from tests.support.tables import houses_like


@pytest.mark.parametrize(
    ("requested", "cores", "load", "expected"),
    [
        (3, 2, 9.0, 3),  # asked for: obeyed
        (0, 2, 0.1, 2),  # quiet machine: every core
        (0, 2, 1.2, 1),  # one core busy
        (0, 2, 8.0, 1),  # busy machine: one thread, never zero
        (0, 8, 3.0, 5),
    ],
)
def test_threads_follow_the_free_cores(requested, cores, load, expected):
    assert training.threads_to_use(requested, cores, load) == expected


def test_the_thread_limit_reaches_openmp():
    with training.thread_limit(1):
        runtimes = [i for i in threadpool_info() if i["user_api"] == "openmp"]
        assert runtimes and all(i["num_threads"] == 1 for i in runtimes)


def _fitted():
    data = validate_training_frame(houses_like(), "price", 0.2)
    spec = get_spec("hist_gradient_boosting")
    holdout = training.split(data, 0.2, 0)
    model, _ = training.fit(spec, spec.parse_params({"max_iter": "20"}), data, holdout.x_train, holdout.y_train)
    return model, holdout, data


def test_permutation_importance_is_bounded_by_rows_and_budget():
    model, holdout, data = _fitted()
    generous = training.permutation_importance(model, holdout, data, budget_s=60, rows=50)
    assert generous.rows == min(50, len(holdout.x_test)) and generous.repeats == 5
    assert generous.values.shape == (len(data.feature_names),)
    tight = training.permutation_importance(model, holdout, data, budget_s=1e-6)
    assert tight.repeats == 1  # at least one measurement, whatever the budget


def _mixed(rows: int = 1500) -> pd.DataFrame:
    """Numbers with blanks, a 3-level and a 120-level category (capped: an infrequent bucket), dates."""
    rng = np.random.default_rng(1)
    size = rng.uniform(0, 10, rows)
    size[::13] = np.nan
    when = pd.to_datetime(1_600_000_000 + rng.integers(0, 10**7, rows), unit="s", utc=True)
    codes, label = [f"k{i}" for i in rng.integers(0, 120, rows)], size * 2 + rng.normal(0, 1, rows)
    return pd.DataFrame({"size": size, "zone": rng.choice(["a", "b", "c"], rows), "code": codes,
                         "when": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "y": label})  # fmt: skip


@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting"])
def test_shuffling_a_raw_column_is_shuffling_the_columns_preprocessing_made_from_it(family):
    """Why permutation importance may shuffle the preprocessed sample: same rows, same matrix."""
    data = validate_training_frame(_mixed().fillna({"y": 0.0}), "y", 0.2)
    assert data.plan.datetime == ["when"] and sorted(data.plan.categorical) == ["code", "zone"]
    spec = get_spec(family)
    model, _ = training.fit(spec, spec.parse_params({}), data, data.features, data.labels)
    x = data.features.head(300)
    matrix = model[:-1].transform(x)
    groups = input_columns(model, data.feature_names)
    assert groups is not None and sorted(i for at in groups.values() for i in at) == list(range(matrix.shape[1]))
    assert len(groups["when"]) == 6 and (len(groups["code"]) > 1) == (family == "random_forest")  # one-hot
    order = np.random.default_rng(0).permutation(len(x))
    for column, at in groups.items():
        raw = x.copy()
        raw[column] = x[column].to_numpy()[order]
        shuffled = matrix.copy()
        shuffled[:, at] = matrix[order][:, at]
        np.testing.assert_array_equal(shuffled, model[:-1].transform(raw))
    importances = training.permutation_importance(model, training.split(data, 0.2, 0), data, budget_s=60)
    assert importances.repeats == 5 and int(np.argmax(importances.values)) == data.feature_names.index("size")


def test_the_signature_sample_keeps_every_column_that_has_missing_values():
    frame = pd.DataFrame({"a": np.arange(5000.0), "b": ["x"] * 5000, "c": np.arange(5000.0)})
    frame.loc[4321, "a"] = np.nan
    frame.loc[4999, "b"] = None
    sample = with_missing_values(frame, 1000)
    assert len(sample) == 1002
    assert sample["a"].isna().sum() == 1 and sample["b"].isna().sum() == 1 and not sample["c"].isna().any()
    assert len(with_missing_values(frame.fillna(0), 1000)) == 1000


def test_stage_times_add_up_and_say_what_is_left():
    times = StageTimes()
    with times.stage("fit"):
        pass
    times.add("fit", 1.0)
    times.add("log model", 0.5)
    assert times.seconds["fit"] >= 1.0 and times.total() >= 1.5
    assert times.summary(2.0).endswith("of 2.00s") and "log model 0.50s" in times.summary(2.0)
