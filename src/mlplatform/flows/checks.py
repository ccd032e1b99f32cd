"""`mlplatform check`: can a scoring run start? Each check says OK, FAIL (with why) or SKIP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.errors import MLPlatformError
from mlplatform.flows.setup import open_mlflow
from mlplatform.sinks import build_sinks


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Literal["OK", "FAIL", "SKIP"]
    detail: str


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MLPlatformError) else f"{type(exc).__name__}: {exc}"


def check_mlflow(settings: Settings) -> list[CheckResult]:
    mlflow = open_mlflow(settings)
    try:
        mlflow.connection.check_reachable()
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        return [
            CheckResult("mlflow", "FAIL", _failure(exc)),
            CheckResult("model", "SKIP", "MLflow is unreachable"),
        ]
    results = [CheckResult("mlflow", "OK", mlflow.tracking_uri)]
    try:
        model = mlflow.loader.resolve(settings.model_uri)
        results.append(CheckResult("model", "OK", f"{settings.model_uri} -> {model.label}"))
    except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
        results.append(CheckResult("model", "FAIL", _failure(exc)))
    return results


def check_sinks(settings: Settings, clients: Clients) -> list[CheckResult]:
    results = []
    sinks = build_sinks(settings, clients)  # storage first, as people read it
    for sink in sinks:
        try:
            results.append(CheckResult(sink.name, "OK", sink.check()))
        except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line, not a crash
            results.append(CheckResult(sink.name, "FAIL", _failure(exc)))
    if not any(sink.name == "kafka" for sink in sinks):
        results.append(CheckResult("kafka", "SKIP", "KAFKA_BOOTSTRAP_SERVERS is not set (no Kafka sink)"))
    return results


def run_checks(settings: Settings, clients: Clients | None = None) -> list[CheckResult]:
    return [*check_mlflow(settings), *check_sinks(settings, clients or Clients())]
