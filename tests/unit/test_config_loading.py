"""Where each setting comes from, and variables that set nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlplatform.config.loading import load_settings_with_sources, unknown_variables
from mlplatform.errors import ConfigError


@pytest.fixture
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "staging.toml").write_text('model_name = "from-toml"\n[hyperparameters]\nmax_depth = 4\n')
    monkeypatch.setenv("MLPLATFORM_CONFIG_DIR", str(folder))
    return folder


def test_every_value_knows_its_source(staging, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    monkeypatch.setenv("MLPLATFORM_INFERENCE__ROWS", "7")
    monkeypatch.setenv("KAFKA_TOPIC", "seed-topic")
    loaded = load_settings_with_sources("staging", experiment_name="from-flag", inference={"seed": 3})
    assert loaded.source_of("model_name") == "config/staging.toml"
    assert loaded.source_of("hyperparameters.max_depth") == "config/staging.toml"
    assert loaded.source_of("tracking_uri") == "env MLFLOW_TRACKING_URI"
    assert loaded.source_of("inference.rows") == "env MLPLATFORM_INFERENCE__ROWS"
    assert loaded.source_of("inference.kafka.topic") == "env KAFKA_TOPIC"
    assert loaded.source_of("experiment_name") == "flag"
    assert loaded.source_of("inference.seed") == "flag"
    assert loaded.source_of("project") == "derived from model_name"
    assert loaded.source_of("env") == "flag"
    settings = loaded.settings
    assert (settings.inference.rows, settings.inference.seed, settings.inference.kafka.topic) == (7, 3, "seed-topic")


def test_flags_beat_environment_beats_file(staging, monkeypatch):
    monkeypatch.setenv("MODEL_NAME", "from-seed-env")
    assert load_settings_with_sources("staging").settings.model_name == "from-seed-env"
    monkeypatch.setenv("MLPLATFORM_MODEL_NAME", "from-prefixed-env")
    loaded = load_settings_with_sources("staging")
    assert loaded.settings.model_name == "from-prefixed-env"
    assert load_settings_with_sources("staging", model_name="from-flag").settings.model_name == "from-flag"


def test_nested_flags_merge_with_other_sources(monkeypatch):
    monkeypatch.setenv("MLPLATFORM_INFERENCE__KAFKA__TOPIC", "t")
    settings = load_settings_with_sources(None, inference={"rows": 5, "kafka": {"linger_ms": 3}}).settings
    assert (settings.inference.rows, settings.inference.kafka.topic, settings.inference.kafka.linger_ms) == (5, "t", 3)


def test_misspelt_variables_get_a_did_you_mean(caplog):
    found = unknown_variables(
        {
            "MLPLATFORM_MODLE_NAME": "x",
            "MLPLATFORM_INFERENCE__ROWZ": "1",
            "MLPLATFORM_HOME": "/tmp",
            "PATH": "/bin",
            "KAFKA_BOOTSTRAP_SERVER": "broker:9092",  # one letter short of ours
            "KAFKA_OPTS": "-Xmx1g",  # Kafka's own tools: not ours, not a typo of ours
            "KAFKA_CONFIG_LINGER_MS": "5",  # passed through to librdkafka
        }
    )
    assert found == [
        ("KAFKA_BOOTSTRAP_SERVER", "KAFKA_BOOTSTRAP_SERVERS"),
        ("MLPLATFORM_INFERENCE__ROWZ", "MLPLATFORM_INFERENCE__ROWS"),
        ("MLPLATFORM_MODLE_NAME", "MLPLATFORM_MODEL_NAME"),
    ]


def test_a_misspelt_variable_is_a_warning_locally_and_an_error_when_strict(monkeypatch, caplog):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVER", "broker:9092")
    load_settings_with_sources(None)
    assert "ignoring unknown environment variable KAFKA_BOOTSTRAP_SERVER; did you mean KAFKA_BOOTSTRAP_SERVERS?" in (
        caplog.text
    )
    with pytest.raises(ConfigError, match="unknown environment variable KAFKA_BOOTSTRAP_SERVER"):
        load_settings_with_sources(None, strict=True)
    with pytest.raises(ConfigError, match="did you mean KAFKA_BOOTSTRAP_SERVERS"):
        load_settings_with_sources("staging")


def test_variables_read_outside_the_settings_are_not_unknown():
    assert unknown_variables({"MLPLATFORM_ACTOR": "ci", "MLPLATFORM_HYPERPARAMETERS__N_ESTIMATORS": "5"}) == []


@pytest.mark.parametrize(
    ("location", "roots", "problem"),
    [
        ("/data/in", [], None),
        ("../shared/in.csv", [], None),  # up from the working directory: named on purpose
        ("s3://bucket/ml/in/", [], None),
        ("/data/x/../../etc", [], "climbs back out"),
        ("data/../..", [], "climbs back out"),
        ("s3://bucket/ml/../other", [], "not a plain S3 location"),
        ("s3://bucket//ml", [], "not a plain S3 location"),
        ("s3://bucket/ml/./in", [], "not a plain S3 location"),
        ("s3://bucket/ml\\in", [], "not a plain S3 location"),
        ("/data/x/../in", ["/data"], None),  # resolves inside an allowed root
        ("/data/x/../../etc", ["/data"], "outside the allowed roots"),
        ("/database", ["/data"], "outside the allowed roots"),  # a prefix of the name is not inside
        ("s3://bucket/ml/in", ["s3://bucket/ml"], None),
        ("s3://bucket/mlx", ["s3://bucket/ml"], "outside the allowed roots"),
    ],
)
def test_data_locations_are_confined(location, roots, problem):
    from mlplatform.config.paths import location_problem

    found = location_problem(location, roots)
    assert (found is None) if problem is None else (problem in (found or "")), found


@pytest.mark.parametrize("name", ["..", ".hidden", "a/b", "../x", "a\\b", "-x"])
def test_names_that_become_path_segments_hold_no_path_syntax(name):
    from pydantic import ValidationError

    from mlplatform.config.settings import Settings

    for field in ("project", "model_name"):
        with pytest.raises(ValidationError):
            Settings.model_validate({field: name})
