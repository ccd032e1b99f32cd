"""The promotion gate of a training run, and the events it tells the world."""

from __future__ import annotations

import logging

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.flows.events import emit
from mlplatform.flows.training_record import Trained
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import Mlflow
from mlplatform.registry.promotion import PromotionDecision, decide
from mlplatform.registry.uris import version_uri
from mlplatform.scoring.batch import task_of
from mlplatform.training import fit as training

log = logging.getLogger(__name__)


def promotion_gate(
    settings: Settings, mlflow: Mlflow, version: str, trained: Trained, metric: str
) -> tuple[PromotionDecision, AliasEvent]:
    """Champion scored on the candidate's holdout, the decision taken and the alias moved, all
    under the promotion lock so the champion read is still true when the alias moves."""
    promotion = settings.promotion
    with mlflow.model.promotion_lock():
        champion = mlflow.model.alias_version(promotion.champion_alias)
        champion_score = None
        if champion is not None:
            champion_score = _champion_score(mlflow, champion, trained, metric)
        decision = decide(
            trained.metrics[metric],
            champion,
            champion_score,
            metric=metric,
            tolerance=promotion.tolerance,
            auto_promote=promotion.auto_promote,
            higher_is_better=training.HIGHER_IS_BETTER[metric],
        )
        event = mlflow.model.apply_decision(version, decision, promotion.champion_alias, promotion.challenger_alias)
    return decision, event


def emit_training_events(
    settings: Settings,
    version: str,
    run_id: str,
    metrics: dict[str, float],
    decision: PromotionDecision,
    event: AliasEvent,
    clients: Clients,
) -> None:
    name = settings.model_name
    registered = {"run_id": run_id, "metrics": {k: v for k, v in metrics.items() if not k.startswith("f1_class_")}}
    emit(settings, "version_registered", model=name, version=version, details=registered, clients=clients)
    gate = {"promote": decision.promote, "reason": decision.reason, "alias": event.alias}
    emit(settings, "gate_decided", model=name, version=version, details=gate | decision.as_tags(), clients=clients)
    if decision.promote:
        moved = {"alias": event.alias, "previous_version": event.previous_version, "actor": event.actor}
        emit(
            settings, "promoted", model=name, version=version, details=moved | {"reason": event.reason}, clients=clients
        )


def _champion_score(mlflow: Mlflow, version: str, trained: Trained, metric: str) -> float | None:
    """The champion's score on *this* holdout, or None if it cannot score these features."""
    from mlplatform.errors import MLPlatformError

    data, holdout = trained.data, trained.holdout
    try:
        champion = mlflow.loader.load_sklearn(version_uri(mlflow.model.name, version))
    except MLPlatformError as exc:
        log.warning("champion v%s could not be loaded: %s", version, exc)
        return None
    expected = [str(c) for c in getattr(champion, "feature_names_in_", [])]
    if sorted(expected) != sorted(data.feature_names):
        log.warning("champion v%s was trained on other features: %s", version, ", ".join(expected))
        return None
    if task_of(champion) != data.task:
        log.warning("champion v%s is not a %s model", version, data.task)
        return None
    try:
        return training.score(champion, holdout.x_test[expected], holdout.y_test, data, metric)
    except (ValueError, TypeError) as exc:  # e.g. a champion without imputation meets missing values
        log.warning("champion v%s could not score this holdout: %s", version, exc)
        return None
