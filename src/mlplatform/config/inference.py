"""The inference section of the settings: scoring, its sinks (Kafka, PostgreSQL) and drift."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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


class PostgresSettings(BaseModel):
    """PostgreSQL sink: each date's predictions as rows of one table; on when a DSN or a secret is set."""

    model_config = ConfigDict(extra="forbid")

    dsn: SecretStr | None = Field(
        None,
        description="libpq connection string or postgresql:// URI (environment only; never logged); unset = no "
        "PostgreSQL sink.",
    )
    secret_arn: str | None = Field(
        None,
        description="Secrets Manager secret with the connection (RDS JSON: username, password, host, port, dbname; "
        "or a DSN string), read at start; never logged.",
    )
    table: str = Field(
        "predictions",
        pattern=r"^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$",
        description="Table (or schema.table) that holds the predictions; created when missing.",
    )

    @property
    def enabled(self) -> bool:
        return self.dsn is not None or bool(self.secret_arn)


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
    drop_columns: list[str] = Field(
        default_factory=list, description="Input columns that are not features (left out of scoring, not an error)."
    )
    batch_size: int = Field(100_000, ge=1, le=5_000_000, description="Rows read and scored at a time.")
    output_format: OutputFormat = Field("parquet", description="parquet, csv or jsonl.")
    on_bad_rows: BadRowPolicy = Field(
        "fail",
        description="Rows the model cannot take (inf, beyond float32; blanks only for a model without "
        "imputation): fail the run, or quarantine them and score the rest.",
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
    shadow: bool = Field(
        False,
        description="Also score with the challenger alias into variant=challenger/ (never to the predictions topic).",
    )
    shadow_topic: str | None = Field(None, description="Kafka topic for the shadow variant's predictions (optional).")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
