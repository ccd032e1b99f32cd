import pytest

from mlplatform.errors import ConfigError
from mlplatform.models import get_spec, parse_assignments
from mlplatform.models.random_forest import RandomForestParams

build_params = get_spec("random_forest").parse_params


def test_defaults_follow_the_seeds():
    params = RandomForestParams()
    assert (params.n_estimators, params.max_depth, params.random_state, params.criterion) == (
        100,
        10,
        42,
        None,
    )  # None: gini for classes


def test_sagemaker_style_strings_are_converted():
    params = build_params(
        {"n_estimators": "250", "max_depth": "None", "max_features": "0.5", "bootstrap": "false", "class_weight": ""}
    )
    assert params.n_estimators == 250
    assert params.max_depth is None
    assert params.max_features == 0.5
    assert params.bootstrap is False
    assert params.class_weight is None


def test_integer_max_features_is_a_count():
    assert build_params({"max_features": "3"}).max_features == 3


def test_unknown_name_lists_the_valid_ones_and_suggests():
    with pytest.raises(ConfigError) as info:
        build_params({"n_estimator": "5"})
    assert "n_estimator" in info.value.headline
    assert "did you mean 'n_estimators'" in info.value.fix
    assert "min_samples_leaf" in info.value.fix


@pytest.mark.parametrize(
    ("overrides", "in_headline", "in_fix"),
    [
        ({"criterion": "foo"}, "criterion='foo'", "'gini', 'entropy', 'log_loss'"),
        ({"max_features": "most"}, "max_features='most'", "'auto' (sqrt for classification, all for regression)"),
        ({"n_estimators": "0"}, "n_estimators='0'", "greater than or equal to 1"),
        ({"n_estimators": "many"}, "n_estimators='many'", "valid integer"),
        ({"min_samples_leaf": "-1"}, "min_samples_leaf", "greater than or equal to 1"),
    ],
)
def test_invalid_values_name_the_field_and_what_is_allowed(overrides, in_headline, in_fix):
    with pytest.raises(ConfigError) as info:
        build_params(overrides)
    assert in_headline in info.value.headline
    assert in_fix in info.value.fix


def test_overrides_keep_the_base_values():
    base = build_params({"n_estimators": "7"})
    assert build_params({"max_depth": "3"}, base).n_estimators == 7


@pytest.mark.parametrize("bad", ["n_estimators", "=5", ""])
def test_assignments_must_be_key_value(bad):
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignments([bad])


def test_assignments_parse():
    assert parse_assignments(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
