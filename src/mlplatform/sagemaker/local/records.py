"""What run-local reports, in the shapes of describe-pipeline-execution and its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class StepFailure(Exception):
    """A job that did not complete: `kind` is what RetryPolicies match (Step.SERVICE_FAULT, ...)."""

    def __init__(self, kind: str, reason: str, status: str = "Failed") -> None:
        super().__init__(reason)
        self.kind, self.reason, self.status = kind, reason, status


def client_error(reason: str) -> StepFailure:
    """A request SageMaker would refuse (or run-local cannot emulate)."""
    return StepFailure("ClientError", f"ClientError: {reason}")


def job_arn(name: str, kind: str) -> str:
    return f"arn:aws:sagemaker:local:000000000000:{kind}-job/{name}"


@dataclass
class StepRecord:
    """One row of `list-pipeline-execution-steps`."""

    name: str
    type: str
    status: str = "Executing"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    attempts: int = 0
    job_name: str = ""
    job_status: str = ""
    failure_reason: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def finish(self, status: str, reason: str | None = None) -> None:
        self.status, self.failure_reason, self.end = status, reason, datetime.now(UTC)

    def as_api(self) -> dict[str, Any]:
        kind = "TrainingJob" if self.type == "Training" else "ProcessingJob"
        step: dict[str, Any] = {
            "StepName": self.name,
            "StepStatus": self.status,
            "StartTime": self.start.isoformat(),
            "EndTime": self.end.isoformat() if self.end else None,
            "AttemptCount": self.attempts,
            "Metadata": {kind: {"Arn": job_arn(self.job_name, self.type.lower())}} if self.job_name else {},
        }
        if self.failure_reason:
            step["FailureReason"] = self.failure_reason
        return step


@dataclass
class Execution:
    pipeline_name: str
    execution_id: str
    workdir: Path
    status: str = "Executing"
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    end: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def failed_step(self) -> StepRecord | None:
        return next((s for s in self.steps if s.status == "Failed"), None)

    def as_api(self, region: str) -> dict[str, Any]:
        """The shape of describe-pipeline-execution plus list-pipeline-execution-steps."""
        return {
            "PipelineExecutionArn": f"arn:aws:sagemaker:{region}:000000000000:pipeline/{self.pipeline_name}"
            f"/execution/{self.execution_id}",
            "PipelineExecutionStatus": self.status,
            "CreationTime": self.start.isoformat(),
            "LastModifiedTime": (self.end or self.start).isoformat(),
            "PipelineExecutionSteps": [s.as_api() for s in reversed(self.steps)],
            "LocalWorkDir": str(self.workdir),
        }


@dataclass
class Job:
    """One job of a step: its request, where its hosts live, and how its processes start."""

    name: str
    step: str
    request: dict[str, Any]
    root: Path
    environment: dict[str, str]
    max_runtime_s: float
