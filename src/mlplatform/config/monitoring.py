"""The closed loop's settings: realized quality, retraining on evidence, events out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class MonitoringSettings(BaseModel):
    """Realized quality from labels, and the per-model report."""

    model_config = ConfigDict(extra="forbid")

    quality_tolerance: float = Field(
        0.02, ge=0, description="A date is degraded when its quality interval lies this far below the reference."
    )
    min_coverage: float = Field(
        0.1, ge=0, le=1, description="Below this share of predictions with labels, a date's quality is insufficient."
    )
    min_labels: int = Field(30, ge=1, description="Below this many labels, a date's quality is insufficient.")
    report_path: str | None = Field(
        None, description="Write the model's HTML report here after each scheduled run (local path)."
    )


class DriftTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: int = Field(1, ge=1, description="Features that must have drifted on a date.")
    dates: int = Field(2, ge=1, description="...on this many of the champion's last `window` dates.")
    window: int = Field(3, ge=1, description="The champion's last scored dates looked at.")


class RetrainSettings(BaseModel):
    """Retrain on evidence, besides the schedule; every rule is off unless set."""

    model_config = ConfigDict(extra="forbid")

    on_quality_drop: bool = Field(False, description="Retrain when a date of the champion is degraded.")
    on_drift: DriftTrigger | None = Field(
        None, description="Retrain on drift, e.g. {features = 1, dates = 2, window = 3}; unset = off."
    )
    max_age_days: float | None = Field(None, gt=0, description="Retrain when the champion is older than this.")
    cooldown_days: float | None = Field(None, ge=0, description="No retrain within this long of the last training.")


class TrainingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retrain: RetrainSettings = Field(default_factory=RetrainSettings)


class EventsSettings(BaseModel):
    """Where events go besides the local log (state directory); delivery never fails a pipeline."""

    model_config = ConfigDict(extra="forbid")

    kafka_topic: str | None = Field(None, description="Kafka topic for events (the inference Kafka settings).")
    webhook_url: str | None = Field(None, description="HTTP(S) URL that gets each event as a JSON POST.")
    webhook_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key of the X-Mlplatform-Signature header (environment only; never logged)."
    )
    webhook_secret_arn: str | None = Field(None, description="Secrets Manager secret holding the webhook key.")
    sns_topic_arn: str | None = Field(None, description="SNS topic for events (made by Terraform on AWS).")
    timeout_s: float = Field(5.0, gt=0, le=60, description="Per delivery attempt.")
    retries: int = Field(3, ge=0, le=10, description="Attempts after the first, with exponential backoff.")
