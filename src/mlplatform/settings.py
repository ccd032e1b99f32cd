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

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mlplatform.errors import ConfigError
from mlplatform.schedules.expressions import check_timezone, parse
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


OutputFormat = Literal["parquet", "csv", "jsonl"]
BadRowPolicy = Literal["fail", "quarantine"]


class KafkaSettings(BaseModel):
    """Kafka sink; on when bootstrap servers are set. Secrets come only from the environment."""

    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str | None = Field(
        None,
        description="host:port[,host:port]; unset = no Kafka sink.",
    )
    topic: str = Field(
        "ml-predictions",
        min_length=1,
        description="Topic that gets one message per prediction.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="librdkafka security.protocol.",
    )
    sasl_mechanism: str | None = Field(
        None,
        description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, ...",
    )
    sasl_username: str | None = Field(None, description="SASL user.")
    sasl_password: SecretStr | None = Field(
        None,
        description="SASL password (environment only; never logged).",
    )
    ssl_ca_location: str | None = Field(
        None,
        description="CA bundle for SSL/SASL_SSL.",
    )
    delivery_timeout_s: float = Field(
        30.0, gt=0, le=60, description="Seconds a message may wait for its acknowledgement (max 60)."
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4", description="Producer compression.type."
    )
    linger_ms: int = Field(20, ge=0, le=1000, description="Producer linger.ms (batching window).")

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers)


class DriftSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    psi_threshold: float = Field(0.2, gt=0, description="PSI above which a feature counts as drifted.")
    fail_on_drift: bool = Field(False, description="Exit 1 (and write no _SUCCESS) when a feature drifts.")


class InferenceSettings(BaseModel):
    """Daily batch inference."""

    model_config = ConfigDict(extra="forbid")

    model_uri: str | None = Field(
        None,
        description="Model to score with; default models:/<model_name>@production.",
    )
    data_root: str | None = Field(
        None, description="Output root: a folder or s3://bucket/prefix. Default: <home>/data."
    )
    input: str | None = Field(
        None, description="Input CSV/Parquet file, folder or date partition (local or s3://); unset = generated."
    )
    rows: int = Field(1000, ge=1, description="Generated rows when there is no input.")
    seed: int = Field(0, description="Seed of the generated rows.")
    id_column: str | None = Field(
        None, description="Input column holding the row id; default: the row's position in the input."
    )
    batch_size: int = Field(100_000, ge=1, le=5_000_000, description="Rows read and scored at a time.")
    output_format: OutputFormat = Field("parquet", description="parquet, csv or jsonl.")
    on_bad_rows: BadRowPolicy = Field(
        "fail", description="Rows with nulls/NaN/inf: fail the run, or quarantine them and score the rest."
    )
    predict_jobs: int = Field(-1, description="Cores for predict_proba; -1 = all.")
    shard: str | None = Field(
        None, description="Sub-partition of this host's output, e.g. host=algo-2 (set by the SageMaker entrypoint)."
    )
    row_id_offset: int = Field(0, ge=0, description="Added to positional row ids (keeps hosts' ids apart).")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)


class ScheduleSettings(BaseModel):
    """When the pipelines run: the same expressions feed the local daemon and EventBridge."""

    model_config = ConfigDict(extra="forbid")

    training_schedule: str = Field("cron(0 2 ? * SUN *)", description="Training: AWS cron()/rate()/at().")
    inference_schedule: str = Field("cron(0 6 * * ? *)", description="Inference: AWS cron()/rate()/at().")
    timezone: str = Field("UTC", description="IANA time zone the expressions are evaluated in.")
    training_enabled: bool = Field(True, description="Run training on its schedule.")
    inference_enabled: bool = Field(True, description="Run inference on its schedule.")
    missed_runs: Literal["latest", "all"] = Field(
        "latest", description="After downtime: run only the latest missed run, or every missed date."
    )
    grace_period_s: int = Field(21600, ge=0, description="A missed run older than this is not run (latest).")
    catch_up_limit: int = Field(7, ge=1, le=366, description="At most this many missed runs are run (all).")
    max_retries: int = Field(2, ge=0, le=10, description="Retries of a failed run.")
    retry_backoff_s: float = Field(60.0, ge=0, description="First retry delay; doubles every retry.")
    input_wait_timeout_s: int = Field(
        3600, ge=0, description="Inference on files waits this long for the date's input to be complete."
    )
    input_min_files: int | None = Field(
        None, ge=1, description="Input complete at this many files (default: a _SUCCESS marker)."
    )
    shutdown_grace_s: int = Field(300, ge=0, description="On SIGTERM, how long the current run may finish.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("training_schedule", "inference_schedule")
    @classmethod
    def _valid_expression(cls, value: str) -> str:
        parse(value)
        return value


class AwsSettings(BaseModel):
    """SageMaker deployment values; the same names are Terraform variables (infra/terraform)."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field("us-east-1", description="AWS region.")
    role_arn: str = Field(
        "arn:aws:iam::123456789012:role/mlplatform-sagemaker-execution",
        description="SageMaker execution role the pipeline steps run as.",
    )
    bucket: str = Field("mlplatform-ml-bucket", description="S3 bucket for data, models and predictions.")
    training_image_uri: str = Field(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlplatform-training:latest", description="Training image."
    )
    inference_image_uri: str = Field(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlplatform-inference:latest", description="Inference image."
    )
    training_instance_type: str = Field("ml.m5.large", description="Training instance type.")
    training_instance_count: int = Field(1, ge=1, le=1, description="Training instances (RandomForest: one).")
    inference_instance_type: str = Field("ml.m5.large", description="Processing (inference) instance type.")
    inference_instance_count: int = Field(
        1, ge=1, le=100, description="Processing instances; above 1 the input is sharded by S3 key."
    )
    volume_size_gb: int = Field(30, ge=1, le=16384, description="EBS volume per instance.")
    training_max_runtime_s: int = Field(1800, ge=60, description="Training step limit (seeds: 30 minutes).")
    inference_max_runtime_s: int = Field(1200, ge=60, description="Processing step limit (seeds: 20 minutes).")
    subnet_ids: list[str] = Field(default_factory=list, description="VPC subnets for the jobs (empty: no VPC).")
    security_group_ids: list[str] = Field(default_factory=list, description="Security groups for the jobs.")
    mlflow_tracking_uri: str | None = Field(
        None, description="Tracking URI inside the jobs (a SageMaker MLflow ARN); default: tracking_uri."
    )


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
    validation_data: str | None = Field(
        None, description="Holdout data (same columns); default: a stratified split of the training data."
    )
    target_column: str = Field("target", min_length=1, description="Label column of the training data.")
    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="Fraction of rows held out, stratified.")
    hyperparameters: RandomForestParams = Field(
        default_factory=RandomForestParams, description="RandomForest hyperparameters."
    )
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)

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
    def model_uri(self) -> str:
        champion = self.promotion.champion_alias
        return self.inference.model_uri or f"models:/{self.model_name}@{champion}"

    @property
    def data_root(self) -> str:
        return self.inference.data_root or str(self.state_dir / "data")

    @property
    def inference_experiment(self) -> str:
        return f"{self.model_name}-inference"

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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, SeedEnvSource(settings_cls)]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The seeds' environment variable names for nested settings (top-level ones use aliases).
SEED_ENV: dict[str, tuple[str, ...]] = {
    "MLFLOW_MODEL_URI": ("inference", "model_uri"),
    "KAFKA_BOOTSTRAP_SERVERS": ("inference", "kafka", "bootstrap_servers"),
    "KAFKA_TOPIC": ("inference", "kafka", "topic"),
    "KAFKA_SECURITY_PROTOCOL": ("inference", "kafka", "security_protocol"),
    "KAFKA_SASL_MECHANISM": ("inference", "kafka", "sasl_mechanism"),
    "KAFKA_SASL_USERNAME": ("inference", "kafka", "sasl_username"),
    "KAFKA_SASL_PASSWORD": ("inference", "kafka", "sasl_password"),
    "KAFKA_SSL_CA_LOCATION": ("inference", "kafka", "ssl_ca_location"),
}


class SeedEnvSource(PydanticBaseSettingsSource):
    """Reads SEED_ENV variables into nested settings; ranks below MLPLATFORM_* variables."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for variable, path in SEED_ENV.items():
            value = os.environ.get(variable)
            if value is None or value == "":
                continue
            node = values
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return values


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
    prefixed = f"MLPLATFORM_{prefix}{name}".upper()
    path = (*prefix.lower().split("__")[:-1], name)
    seed = next((variable for variable, target in SEED_ENV.items() if target == path), None)
    return f"{seed} / {prefixed}" if seed else prefixed


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
