"""What every flow starts from: settings checked end to end, and the adapters built from them.

`config` validates the shape of each setting; the meaning of some belongs to domain packages
(a model family's hyperparameters, schedule expressions), so they are checked here, right
after loading, before any work: the CLI, the SageMaker entrypoints and the scheduler all load
settings through this module.
"""

from __future__ import annotations

from typing import Any

from mlplatform.config.loading import LoadedSettings, load_settings_with_sources
from mlplatform.config.paths import LOCATIONS, location_problem
from mlplatform.config.settings import Settings
from mlplatform.errors import ConfigError
from mlplatform.models import Hyperparameters, ModelSpec, get_spec
from mlplatform.registry.mlflow import Mlflow
from mlplatform.schedules.expressions import parse


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """Settings from every source, validated in shape and in meaning."""
    return load_checked(env, **overrides).settings


def load_checked(env: str | None = None, **overrides: Any) -> LoadedSettings:
    loaded = load_settings_with_sources(env, **overrides)
    check_settings(loaded.settings)
    check_locations(loaded)
    return loaded


def check_locations(loaded: LoadedSettings) -> None:
    """Every data location is one the user named, not one reached by `..` (`config.paths`)."""
    settings = loaded.settings
    for name, what in LOCATIONS:
        value: Any = settings
        for part in name.split("."):
            value = getattr(value, part)
        if value and (problem := location_problem(str(value), settings.allowed_roots)):
            raise ConfigError(
                f"invalid setting {name}={value!r} (from {loaded.source_of(name)}): {what} {problem}",
                "name the folder or S3 prefix directly, or list the roots allowed in MLPLATFORM_ALLOWED_ROOTS "
                '(e.g. ["/data", "s3://bucket/ml"])',
            )


def check_settings(settings: Settings) -> None:
    """The domain checks: hyperparameters against their family, schedule expressions parsed."""
    model_params(settings)
    schedule = settings.schedule
    for name in ("training_schedule", "inference_schedule"):
        expression = getattr(schedule, name)
        try:
            parse(expression, schedule.timezone)
        except ConfigError as exc:
            raise ConfigError(f"invalid setting schedule.{name}={expression!r}: {exc.headline}", exc.fix) from None


def model_spec(settings: Settings) -> ModelSpec:
    return get_spec(settings.model_family)


def model_params(settings: Settings) -> Hyperparameters:
    """The family's hyperparameters: its defaults, overridden by the `hyperparameters` setting."""
    return model_spec(settings).parse_params(settings.hyperparameters)


def open_mlflow(settings: Settings) -> Mlflow:
    return Mlflow.open(
        settings.resolved_tracking_uri,
        settings.model_name,
        settings.state_dir,
        settings.uses_embedded_store,
        settings.allow_unverified_models,
    )
