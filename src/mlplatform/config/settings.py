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

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    headers: bool = Field(
        False,
        description="Also send schema_version and model_version as message headers (the value holds "
        "both; headers cost ~1 µs a message).",
    )
    secret_arn: str | None = Field(
        None,
        description="Secrets Manager secret with the SASL username/password (JSON), read at start; never logged.",
    )
    processes: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that publish a date, each with its own producer: 0 = one per two cores (from "
        "200,000 rows), 1 = this process only.",
    )

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
    compile: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Compiled forests (gcc/clang): auto = the one compiled at training, else compile only when the "
        "rows pay for the forest's compile time.",
    )
    daily_rows: int | None = Field(
        None,
        ge=1,
        description="Rows a daily run is expected to score: training compiles the forest into the model when that "
        "pays back. Default: inference.rows when inference.input is unset.",
    )
    shard: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._=-]*$",
        description="Sub-partition of this host's output, e.g. host=algo-2 (set by the SageMaker entrypoint).",
    )
    row_id_offset: int = Field(0, ge=0, description="Added to positional row ids (keeps hosts' ids apart).")
    allow_empty: bool = Field(False, description="An input without rows commits an empty date (else an error).")
    wait: bool = Field(
        False, description="When the same model and date is being scored elsewhere: wait (else exit 75 at once)."
    )
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
    volume_size_gb: int = Field(30, ge=1, le=16384, description="EBS volume per instance.")
    training_max_runtime_s: int = Field(1800, ge=60, description="Training step limit (seeds: 30 minutes).")
    inference_max_runtime_s: int = Field(1200, ge=60, description="Processing step limit (seeds: 20 minutes).")
    subnet_ids: list[str] = Field(default_factory=list, description="VPC subnets for the jobs (empty: no VPC).")
    security_group_ids: list[str] = Field(default_factory=list, description="Security groups for the jobs.")
    mlflow_tracking_uri: str | None = Field(
        None, description="Tracking URI inside the jobs (a SageMaker MLflow ARN); default: tracking_uri."
    )


class Settings(BaseSettings):
    """Every setting of mlplatform. Build it with `config.load_settings`, never directly: the
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
        "iris", min_length=1, pattern=NAME_PATTERN, description="Project prefix in output paths (letters, digits, ._-)."
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
        1.0, gt=0, description="Time budget of permutation importance (repeats are cut to fit; logged)."
    )
    model_family: str = Field(
        "random_forest", min_length=1, description="Model family to train (see the hyperparameter table)."
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyperparameters of the model family, by name; unset ones take the family's defaults.",
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
