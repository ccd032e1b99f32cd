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
