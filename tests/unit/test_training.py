"""Training and evaluation behaviour on the built-in Iris data."""

import numpy as np
import pytest

from mlplatform.data.validation import validate_training_frame
from mlplatform.models import get_spec
from mlplatform.training import fit as training

RF = get_spec("random_forest")


@pytest.fixture
def data(iris):
    return validate_training_frame(iris, "species", 0.2)


def test_holdout_is_stratified(data):
    holdout = training.split(data, 0.2, 42)
    assert len(holdout.y_test) == 30
    _, counts = np.unique(holdout.y_test, return_counts=True)
    assert counts.tolist() == [10, 10, 10]


def test_good_model_beats_a_crippled_one_on_the_same_holdout(data):
    holdout = training.split(data, 0.2, 42)
    good, seconds = training.fit(RF, RF.parse_params({}), data, holdout.x_train, holdout.y_train)
    weak, _ = training.fit(
        RF, RF.parse_params({"n_estimators": 1, "max_depth": 1}), data, holdout.x_train, holdout.y_train
    )
    good_f1 = training.score(good, holdout.x_test, holdout.y_test, data, "f1_macro")
    weak_f1 = training.score(weak, holdout.x_test, holdout.y_test, data, "f1_macro")
    assert good_f1 > 0.85
    assert weak_f1 < good_f1
    assert seconds > 0


def test_metrics_include_per_class_f1_and_are_reproducible(data):
    holdout = training.split(data, 0.2, 42)
    model, _ = training.fit(RF, RF.parse_params({}), data, holdout.x_train, holdout.y_train)
    first = training.evaluate(model, holdout.x_test, holdout.y_test, data).all_metrics()
    again, _ = training.fit(RF, RF.parse_params({}), data, holdout.x_train, holdout.y_train)
    second = training.evaluate(again, holdout.x_test, holdout.y_test, data).all_metrics()
    assert first == second
    assert set(first) >= {"accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_class_setosa"}
    assert all(0.0 <= v <= 1.0 for v in first.values())


def test_confusion_matrix_counts_every_holdout_row(data):
    holdout = training.split(data, 0.2, 42)
    model, _ = training.fit(RF, RF.parse_params({}), data, holdout.x_train, holdout.y_train)
    evaluation = training.evaluate(model, holdout.x_test, holdout.y_test, data)
    assert evaluation.confusion.shape == (3, 3)
    assert evaluation.confusion.sum() == 30


def test_prediction_is_invariant_to_row_order(data):
    """Behaviour: a row's prediction does not depend on the other rows in the batch."""
    holdout = training.split(data, 0.2, 42)
    model, _ = training.fit(RF, RF.parse_params({}), data, holdout.x_train, holdout.y_train)
    forward = model.predict(holdout.x_test)
    backward = model.predict(holdout.x_test.iloc[::-1])[::-1]
    assert (forward == backward).all()


def test_metric_keys_are_safe_for_mlflow():
    assert training.metric_safe("a:b*c d") == "a_b_c d"
