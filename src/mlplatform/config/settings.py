"""The settings model: every setting of mlplatform, its type, default and meaning.

Shape only: types, ranges and choices. How values are gathered (defaults < config/<env>.toml <
environment variables < flags) is `config.loading`; values whose meaning a domain package owns
(hyperparameters of a model family, schedule expressions) are plain data here and are checked
by that package when a flow starts. The README's configuration table is generated from this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlplatform.config.inference import InferenceSettings
from mlplatform.config.monitoring import EventsSettings, MonitoringSettings, TrainingSettings

# Names that become path segments (model, project): no '/', no leading '.', so never '..'
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

Environment = Literal["local", "staging", "prod"]
ENVIRONMENTS: tuple[str, ...] = ("local", "staging", "prod")
PromotionMetric = Literal["f1_macro", "accuracy", "precision_macro", "recall_macro", "rmse", "mae", "r2"]
TaskChoice = Literal["auto", "classification", "regression"]


class PromotionSettings(BaseModel):
    """Champion/challenger gate: a new version must score at least champion - tolerance."""

    model_config = ConfigDict(extra="forbid")

    metric: PromotionMetric | None = Field(
        None, description="Holdout metric both models are compared on; default f1_macro (classes) or rmse."
    )
    tolerance: float = Field(0.0, ge=0.0, le=1.0, description="How much worse than the champion a candidate may be.")
    auto_promote: bool = Field(True, description="False: new versions only ever become 'challenger'.")
    champion_alias: str = Field("production", description="Alias readers resolve for the live model.")
    challenger_alias: str = Field("challenger", description="Alias for a version that lost the gate.")
    use_shadow_quality: bool = Field(
        False,
        description="The gate also needs the challenger's realized quality from shadow scoring to be no worse "
        "than the champion's on the same labelled rows.",
    )


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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA name such as UTC, Europe/Berlin or America/New_York") from None
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
    retrain_instance_type: str = Field(
        "ml.t3.medium", description="Instance of the retrain check after inference (one date's labels in memory)."
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
    """Every setting of mlplatform. Build it with `flows.setup.load_settings`, never directly: the
    loader gathers the sources in their documented order and validates once."""

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
        validation_alias=AliasChoices("MLPLATFORM_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI (http(s)://, sqlite:///, or a SageMaker MLflow ARN). "
        "Default: sqlite:///<home>/mlflow.db.",
    )
    model_name: str = Field(
        "iris-model",
        min_length=1,
        pattern=NAME_PATTERN,
        validation_alias=AliasChoices("MLPLATFORM_MODEL_NAME", "MODEL_NAME"),
        description="Registered model name; default iris-model, or <data file name>-model for your data.",
    )
    experiment_name: str = Field(
        "iris-model-training",
        min_length=1,
        validation_alias=AliasChoices("MLPLATFORM_EXPERIMENT_NAME", "EXPERIMENT_NAME"),
        description="MLflow experiment for training runs; default <model_name>-training.",
    )
    project: str = Field(
        "iris",
        min_length=1,
        pattern=NAME_PATTERN,
        description="First folder of the output layout; default: the model name without '-model' (iris, churn, ...).",
    )
    allow_unverified_models: bool = Field(
        False,
        description="Load registered versions that have no SHA-256 of their files (registered outside mlplatform); "
        "off: they are refused.",
    )
    strict: bool = Field(
        False,
        description="Unknown MLPLATFORM_* variables (and KAFKA_* typos) are errors, not warnings; always on in "
        "staging and prod.",
    )
    allowed_roots: list[str] = Field(
        default_factory=list,
        description="Folders and s3:// prefixes every data location must lie in (JSON list); empty = any "
        "location named explicitly, but none that climbs with '..'.",
    )
    train_data: str | None = Field(
        None, description="Training data: CSV/Parquet file or folder, local or s3://. Default: built-in Iris."
    )
    validation_data: str | None = Field(
        None, description="Holdout data (same columns); default: a stratified split of the training data."
    )
    target_column: str = Field("target", min_length=1, description="Label column of the training data.")
    test_size: float = Field(0.2, gt=0.0, lt=1.0, description="Fraction of rows held out (stratified for classes).")
    task: TaskChoice = Field(
        "auto", description="classification, regression, or auto: numbers with fractions or many values = regression."
    )
    id_column: str | None = Field(
        None, description="Row id column: not a feature; carried to the predictions (any type)."
    )
    drop_columns: list[str] = Field(default_factory=list, description="Columns that are not features.")
    categorical_columns: list[str] = Field(
        default_factory=list, description="Columns to treat as categories, e.g. integer codes."
    )
    drop_unlabeled: bool = Field(False, description="Leave out rows with a missing label (else they are an error).")
    training_threads: int = Field(
        0, ge=0, description="Threads for fit, evaluation and importances; 0 = the cores the load average leaves free."
    )
    importance_budget_s: float = Field(
        0.5, gt=0, description="Time budget of permutation importance (repeats are cut to fit; logged)."
    )
    model_family: str = Field(
        "auto",
        min_length=1,
        description="Model family to train (see the hyperparameter table); auto = chosen from the data: "
        "random_forest below 10,000 training rows, hist_gradient_boosting from there.",
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyperparameters of the model family, by name; unset ones take the family's defaults.",
    )
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
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


# The seeds' environment variable names for nested settings. Top-level ones are aliases, listed
# MLPLATFORM_* first: when both are set, the prefixed name wins, as it does for nested ones.
SEED_ENV: dict[str, tuple[str, ...]] = {
    "MLFLOW_MODEL_URI": ("inference", "model_uri"),
    "KAFKA_BOOTSTRAP_SERVERS": ("inference", "kafka", "bootstrap_servers"),
    "KAFKA_TOPIC": ("inference", "kafka", "topic"),
    "KAFKA_SECURITY_PROTOCOL": ("inference", "kafka", "security_protocol"),
    "KAFKA_SASL_MECHANISM": ("inference", "kafka", "sasl_mechanism"),
    "KAFKA_SASL_USERNAME": ("inference", "kafka", "sasl_username"),
    "KAFKA_SASL_PASSWORD": ("inference", "kafka", "sasl_password"),
    "KAFKA_SSL_CA_LOCATION": ("inference", "kafka", "ssl_ca_location"),
    "KAFKA_HEADERS": ("inference", "kafka", "headers"),
    "KAFKA_SECRET_ARN": ("inference", "kafka", "secret_arn"),
    "KAFKA_PROCESSES": ("inference", "kafka", "processes"),
}
