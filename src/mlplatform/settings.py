"""One Settings object: defaults < config/<env>.toml < environment variables < CLI flags.

Loaded and validated once, in the CLI entry point (never at import). The seeds' environment
variable names (`MLFLOW_TRACKING_URI`, `MODEL_NAME`, `EXPERIMENT_NAME`) keep working; every
other variable is `MLPLATFORM_<FIELD>`, nested fields joined with `__`
(`MLPLATFORM_HYPERPARAMETERS__N_ESTIMATORS=200`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mlplatform.errors import ConfigError
from mlplatform.training.params import RandomForestParams, describe_validation_error

Environment = Literal["local", "staging", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("local", "staging", "prod")
PromotionMetric = Literal["f1_macro", "accuracy", "precision_macro", "recall_macro"]


class PromotionSettings(BaseModel):
    """Champion/challenger gate: a new version must score at least champion - tolerance."""

    model_config = ConfigDict(extra="forbid")

    metric: PromotionMetric = Field("f1_macro", description="Holdout metric both models are compared on.")
    tolerance: float = Field(0.0, ge=0.0, le=1.0, description="How much worse than the champion a candidate may be.")
    auto_promote: bool = Field(True, description="False: new versions only ever become 'challenger'.")
    champion_alias: str = Field("production", description="Alias readers resolve for the live model.")
    challenger_alias: str = Field("challenger", description="Alias for a version that lost the gate.")


class Settings(BaseSettings):
    """Every setting of mlplatform; the README's configuration table is generated from this."""

    model_config = SettingsConfigDict(
        env_prefix="MLPLATFORM_",
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
        validate_default=True,
    )

    env: Environment = Field("local", description="Environment whose config/<env>.toml is read.")
    home: Path = Field(Path(".mlplatform"), description="State directory: SQLite MLflow store, artifacts, outputs.")
    tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "MLPLATFORM_TRACKING_URI"),
        description="MLflow tracking URI (http(s)://, sqlite:///, or a SageMaker MLflow ARN). "
        "Default: sqlite:///<home>/mlflow.db.",
    )
    model_name: str = Field(
        "iris-model",
        min_length=1,
        validation_alias=AliasChoices("MODEL_NAME", "MLPLATFORM_MODEL_NAME"),
        description="Registered model name.",
    )
    experiment_name: str = Field(
        "iris-training",
        min_length=1,
        validation_alias=AliasChoices("EXPERIMENT_NAME", "MLPLATFORM_EXPERIMENT_NAME"),
        description="MLflow experiment for training runs.",
    )
    project: str = Field("iris", min_length=1, description="Project prefix in output paths.")
    train_data: str | None = Field(
        None, description="Training data: CSV/Parquet file or folder, local or s3://. Default: built-in Iris."
    )
    target_column: str = Field("target", min_length=1, description="Label column of the training data.")
    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="Fraction of rows held out, stratified.")
    hyperparameters: RandomForestParams = Field(
        default_factory=RandomForestParams, description="RandomForest hyperparameters."
    )
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)

    @property
    def state_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.state_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        """Where runs store artifacts when the tracking store is the embedded SQLite one."""
        return self.state_dir / "artifacts"

    @property
    def uses_embedded_store(self) -> bool:
        return self.resolved_tracking_uri.startswith("sqlite:")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The config file of the environment being loaded; set only for the duration of `load_settings`.
_CONFIG_FILE: dict[str, Path | None] = {}


def config_dir() -> Path:
    """`MLPLATFORM_CONFIG_DIR`, else ./config, else the config/ folder of a source checkout."""
    explicit = os.environ.get("MLPLATFORM_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    local = Path("config")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "config"


def load_settings(env: str | None = None, **overrides: Any) -> Settings:
    """Build and validate the settings; `overrides` are CLI flags (None means 'not given')."""
    env = env or os.environ.get("MLPLATFORM_ENV") or "local"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}", f"use one of: {', '.join(ENVIRONMENTS)}")
    path = config_dir() / f"{env}.toml"
    if env != "local" and not path.is_file():
        raise ConfigError(
            f"config file for environment {env!r} not found at {path}",
            "run from the project root or set MLPLATFORM_CONFIG_DIR to the folder holding <env>.toml",
        )
    given = {k: v for k, v in overrides.items() if v is not None}
    _CONFIG_FILE["path"] = path if path.is_file() else None
    try:
        return Settings(env=env, **given)
    except ValidationError as exc:
        headline, allowed = describe_validation_error(exc, Settings, "setting ")
        where = f"in {path}, " if path.is_file() else ""
        raise ConfigError(
            headline, f"{allowed} (set it {where}as MLPLATFORM_<NAME> in the environment, or by a flag)"
        ) from None
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read config file {path}: {exc}", "fix the TOML syntax") from None
    finally:
        _CONFIG_FILE.pop("path", None)


def _env_name(name: str, info: Any, prefix: str) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return " / ".join(str(choice) for choice in alias.choices)
    return f"MLPLATFORM_{prefix}{name}".upper()


def settings_reference() -> list[tuple[str, str, str, str]]:
    """(setting, environment variable, default, description) for every setting, nested ones
    included: the README's configuration table is this list, checked by a test."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], path: str, env_prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{path}{name}.", f"{env_prefix}{name}__")
                continue
            default = info.get_default(call_default_factory=True)  # not the environment's value
            rows.append(
                (
                    f"{path}{name}",
                    _env_name(name, info, env_prefix),
                    "(unset)" if default is None else str(default),
                    info.description or "",
                )
            )

    walk(Settings, "", "")
    return rows


def settings_reference_markdown() -> str:
    lines = ["| Setting | Environment variable | Default | Meaning |", "|---|---|---|---|"]
    lines += [f"| `{name}` | `{env}` | `{default}` | {text} |" for name, env, default, text in settings_reference()]
    return "\n".join(lines)
