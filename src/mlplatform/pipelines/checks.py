"""`mlplatform check`: can a scoring run start? Each check says OK, FAIL (with why) or SKIP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from mlplatform.clients import filesystem_for
from mlplatform.errors import MLPlatformError
from mlplatform.registry.mlflow_store import MlflowRegistry
from mlplatform.settings import Settings
from mlplatform.sinks.files import output_prefix
from mlplatform.sinks.kafka import KafkaPublisher


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Literal["OK", "FAIL", "SKIP"]
    detail: str


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MLPlatformError) else f"{type(exc).__name__}: {exc}"


def check_mlflow(settings: Settings) -> list[CheckResult]:
    registry = MlflowRegistry.from_settings(settings)
    try:
        registry.check_reachable()
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return [
            CheckResult("mlflow", "FAIL", _failure(exc)),
            CheckResult("model", "SKIP", "MLflow is unreachable"),
        ]
    results = [CheckResult("mlflow", "OK", registry.tracking_uri)]
    try:
        model = registry.resolve(settings.model_uri)
        results.append(CheckResult("model", "OK", f"{settings.model_uri} -> {model.label}"))
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        results.append(CheckResult("model", "FAIL", _failure(exc)))
    return results


def check_storage(settings: Settings) -> CheckResult:
    target = output_prefix(settings.data_root, settings.project)
    probe = f"{target}/_check/{uuid.uuid4().hex}"
    try:
        filesystem, path = filesystem_for(probe)
        if not probe.startswith("s3://"):
            filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with filesystem.open_output_stream(path) as out:
            out.write(b"ok")
        filesystem.delete_file(path)
        return CheckResult("storage", "OK", f"{target} is writable")
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return CheckResult("storage", "FAIL", f"{target}: {_failure(exc)}")


def check_kafka(settings: Settings) -> CheckResult:
    kafka = settings.inference.kafka
    if not kafka.enabled:
        return CheckResult("kafka", "SKIP", "KAFKA_BOOTSTRAP_SERVERS is not set (no Kafka sink)")
    try:
        partitions = KafkaPublisher(kafka, "mlplatform-check", []).check_topic()
        return CheckResult(
            "kafka", "OK", f"topic {kafka.topic!r} on {kafka.bootstrap_servers}: {partitions} partitions"
        )
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return CheckResult("kafka", "FAIL", _failure(exc))


def run_checks(settings: Settings) -> list[CheckResult]:
    return [*check_mlflow(settings), check_storage(settings), check_kafka(settings)]
