"""Retraining on evidence: gather what the champion's dates say (quality, drift), its age and the
last training, ask the policy (`monitoring.policy`), and train when it says so — on the
configured training data, else the data the champion was trained on. The gate still decides
what the new version becomes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.flows.events import emit
from mlplatform.flows.progress import StepReporter
from mlplatform.flows.quality import run_quality
from mlplatform.flows.setup import open_mlflow
from mlplatform.layout import model_folder
from mlplatform.monitoring.policy import DateEvidence, Decision, DriftRule, Evidence, RetrainPolicy, decide
from mlplatform.registry.mlflow import Mlflow
from mlplatform.sinks.committed import CommittedOutput
from mlplatform.sinks.store import ObjectStore

log = logging.getLogger(__name__)
RECENT_DATES = 60  # the newest dates looked at: more than any drift window, bounded I/O


def retrain_policy(settings: Settings) -> RetrainPolicy:
    retrain = settings.training.retrain
    drift = retrain.on_drift
    return RetrainPolicy(
        on_quality_drop=retrain.on_quality_drop,
        on_drift=DriftRule(drift.features, drift.dates, drift.window) if drift else None,
        max_age_days=retrain.max_age_days,
        cooldown_days=retrain.cooldown_days,
    )


def gather_evidence(settings: Settings, clients: Clients, mlflow: Mlflow) -> Evidence:
    """The champion, since when, the last training, and its recent dates' quality and drift."""
    registered = mlflow.model
    if not registered.exists():
        return Evidence(None, None, None)
    alias = settings.promotion.champion_alias
    champion = registered.alias_version(alias)
    moves = [e for e in registered.history() if e.alias == alias and e.version == champion]
    since = datetime.fromisoformat(moves[-1].at) if moves else None
    newest = registered.versions(limit=1)
    last_trained = newest[0].created if newest else None
    folder = model_folder(settings.data_root, settings.project, settings.model_name)
    days = sorted(n[5:] for n in ObjectStore(clients, folder).children() if n.startswith("date="))[-RECENT_DATES:]
    quality = {}
    if days:
        results = run_quality(settings, start=days[0], clients=clients, mlflow=mlflow)
        quality = {q.date: q for q in results if q.variant == "champion"}
    dates = []
    for day in days:
        output = CommittedOutput.load(clients, f"{folder}/date={day}")
        if output is None:
            continue
        found = quality.get(day)
        dates.append(
            DateEvidence(
                date=day,
                version=str(output.manifest.get("model", {}).get("version") or ""),
                quality=found.status if found else None,
                value=found.value if found else None,
                reference=found.reference if found else None,
                metric=found.metric if found else None,
                drifted=tuple(output.manifest.get("monitoring", {}).get("drifted", ())),
            )
        )
    return Evidence(champion, since, last_trained, tuple(dates))


def explain(
    settings: Settings, clients: Clients | None = None, mlflow: Mlflow | None = None, now: datetime | None = None
) -> Decision:
    clients = clients or Clients()
    evidence = gather_evidence(settings, clients, mlflow or open_mlflow(settings))
    return decide(retrain_policy(settings), evidence, now or datetime.now(UTC))


@dataclass(frozen=True)
class RetrainOutcome:
    decision: Decision
    run_id: str | None = None
    version: str | None = None
    promoted: bool | None = None


def retrain_check(
    settings: Settings,
    progress: StepReporter | None = None,
    clients: Clients | None = None,
    mlflow: Mlflow | None = None,
) -> RetrainOutcome:
    """Train when the policy says so (the gate decides promotion); the decision either way."""
    from mlplatform.flows.training import run_training

    clients = clients or Clients()
    mlflow = mlflow or open_mlflow(settings)
    decision = explain(settings, clients, mlflow)
    if decision.action != "retrain":
        return RetrainOutcome(decision)
    details = {"reasons": [r.detail for r in decision.fired]}
    emit(settings, "retrain_triggered", model=settings.model_name, details=details, clients=clients)
    outcome = run_training(training_settings(settings, mlflow), progress, clients, mlflow)
    return RetrainOutcome(decision, outcome.run_id, outcome.version, outcome.decision.promote)


def training_settings(settings: Settings, mlflow: Mlflow) -> Settings:
    """The settings to retrain with: as configured, or — when no training data is configured —
    the data source and target the champion's run recorded."""
    if settings.train_data is not None:
        return settings
    champion = mlflow.model.alias_version(settings.promotion.champion_alias)
    recorded = mlflow.model.training_inputs(champion) if champion else {}
    source, target = recorded.get("data.source"), recorded.get("target")
    if not source or source.startswith("builtin:"):
        return settings
    log.info("retraining on %s (the data the champion v%s was trained on)", source, champion)
    return settings.model_copy(update={"train_data": source, "target_column": target or settings.target_column})
