from pathlib import Path

import pytest

from mlplatform.errors import ConfigError
from mlplatform.flows.setup import load_settings, model_params


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "staging.toml").write_text(
        'model_name = "from-toml"\nexperiment_name = "exp-toml"\n[hyperparameters]\nn_estimators = 50\nmax_depth = 4\n'
    )
    monkeypatch.setenv("MLPLATFORM_CONFIG_DIR", str(folder))
    return folder


def test_defaults_without_any_configuration(isolated_env):
    settings = load_settings()
    assert settings.env == "local"
    assert settings.model_name == "iris-model"
    assert settings.resolved_tracking_uri == f"sqlite:///{isolated_env.resolve() / 'mlflow.db'}"
    assert settings.uses_embedded_store


def test_precedence_defaults_toml_env_flags(config_dir, monkeypatch):
    settings = load_settings("staging")
    assert (settings.model_name, model_params(settings).n_estimators) == ("from-toml", 50)

    monkeypatch.setenv("MODEL_NAME", "from-env")
    monkeypatch.setenv("MLPLATFORM_HYPERPARAMETERS__N_ESTIMATORS", "70")
    settings = load_settings("staging")
    assert (settings.model_name, model_params(settings).n_estimators) == ("from-env", 70)
    assert model_params(settings).max_depth == 4  # nested values merge, not replace

    settings = load_settings("staging", model_name="from-flag")
    assert settings.model_name == "from-flag"


def test_seed_env_var_names_and_prefixed_names(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("EXPERIMENT_NAME", "seed-exp")
    monkeypatch.setenv("MLPLATFORM_PROJECT", "churn")
    settings = load_settings()
    assert settings.tracking_uri == "http://127.0.0.1:5999"
    assert not settings.uses_embedded_store
    assert settings.experiment_name == "seed-exp"
    assert settings.project == "churn"


def test_env_selected_by_variable(config_dir, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_ENV", "staging")
    assert load_settings().model_name == "from-toml"


def test_committed_environment_files_load():
    for env in ("staging", "prod"):
        assert load_settings(env).env == env


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MLPLATFORM_TEST_SIZE", "1.5", "test_size='1.5'"),
        ("MLPLATFORM_HYPERPARAMETERS__CRITERION", "best", "hyperparameter criterion='best'"),
        ("MLPLATFORM_PROMOTION__METRIC", "auc", "promotion.metric='auc'"),
    ],
)
def test_invalid_values_are_rejected_naming_the_setting(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in info.value.headline


def test_unknown_environment():
    with pytest.raises(ConfigError, match="unknown environment 'dev'"):
        load_settings("dev")


def test_missing_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLATFORM_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="config file for environment 'prod' not found"):
        load_settings("prod")


def test_malformed_toml(config_dir):
    (config_dir / "prod.toml").write_text("model_name = \n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings("prod")


def test_unknown_key_in_toml(config_dir):
    (config_dir / "prod.toml").write_text('modle_name = "x"\n')
    with pytest.raises(ConfigError, match="modle_name"):
        load_settings("prod")
