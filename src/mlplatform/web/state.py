"""What the dashboard and the report show, gathered read-only through the same adapters as the
CLI: committed dates and their manifests (data root), cached realized quality, versions and alias
history (registry), events (the state directory's log), schedules and run history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mlplatform.clients import Clients
from mlplatform.config.loading import project_for
from mlplatform.config.settings import Settings
from mlplatform.errors import MLPlatformError, ModelNotFoundError
from mlplatform.events.log import EventLog
from mlplatform.events.model import Event
from mlplatform.flows.quality import DateQuality
from mlplatform.layout import MONITORING, PREDICTIONS, model_folder
from mlplatform.registry.history import AliasEvent
from mlplatform.registry.mlflow import Connection, RegisteredModel, VersionInfo
from mlplatform.registry.mlflow.registered import registered_names
from mlplatform.sinks.committed import read_manifest_of
from mlplatform.sinks.control import parse_pending
from mlplatform.sinks.files import PENDING
from mlplatform.sinks.store import ObjectStore


@dataclass(frozen=True)
class DateStatus:
    date: str
    status: str  # committed | failed | running | missing
    rows: int = 0
    version: str | None = None
    run_id: str | None = None
    detail: str = ""


@dataclass
class ModelView:
    name: str
    champion: str | None
    champion_since: datetime | None
    challenger: str | None
    dates: list[DateStatus]
    manifests: dict[str, dict[str, Any]]  # committed champion dates
    quality: list[DateQuality]
    versions: list[VersionInfo]
    history: list[AliasEvent]
    events: list[Event]
    run_url: str | None = None  # "{run}" is replaced by an MLflow run id
    task: str = "classification"
    next_runs: list[str] = field(default_factory=list)

    @property
    def last(self) -> DateStatus | None:
        return self.dates[-1] if self.dates else None

    def latest_quality(self) -> DateQuality | None:
        labelled = [q for q in self.quality if q.variant == "champion" and q.status != "no-labels"]
        return labelled[-1] if labelled else None


class State:
    """One read of everything the pages need; models are read on demand."""

    def __init__(self, settings: Settings, clients: Clients | None = None, max_dates: int = 366) -> None:
        self.settings = settings
        self.clients = clients or Clients()
        self.max_dates = max_dates
        self.connection = Connection(settings.resolved_tracking_uri)
        self.events = EventLog(settings.state_dir).events()

    def model_names(self) -> list[str]:
        """Registered models, and models that only have outputs in the data root."""
        names = set(registered_names(self.connection))
        root = ObjectStore(self.clients, self.settings.data_root)
        for project in root.children():
            outputs = root.sub(f"{project}/{PREDICTIONS}")
            names |= {n[6:] for n in outputs.children() if n.startswith("model=")}
        return sorted(names)

    def require(self, name: str) -> None:
        """ModelNotFoundError naming the models there are, when `name` is not among them."""
        known = self.model_names()
        if name not in known:
            raise ModelNotFoundError(
                f"no model {name!r} registered or scored (models: {', '.join(known) or 'none'})",
                "pass --model-name with one of them, or run `mlplatform train` first",
            )

    def project_of(self, name: str) -> str:
        """Where a model's outputs live: the configured project, or the one its name derives
        (`churn-model` -> `churn/`) when that is where they are."""
        root = ObjectStore(self.clients, self.settings.data_root)
        for project in dict.fromkeys((self.settings.project, project_for(name))):
            if f"model={name}" in root.sub(f"{project}/{PREDICTIONS}").children():
                return project
        return self.settings.project

    def model(self, name: str) -> ModelView:
        registered = RegisteredModel(self.connection, name)
        exists = _quietly(registered.exists, False)
        champion_alias, challenger_alias = (
            self.settings.promotion.champion_alias,
            self.settings.promotion.challenger_alias,
        )
        history = _quietly(registered.history, []) if exists else []
        champion = _quietly(lambda: registered.alias_version(champion_alias), None) if exists else None
        moves = [e for e in history if e.alias == champion_alias and e.version == champion]
        project = self.project_of(name)
        manifests = self._manifests(name, project)
        events = [e for e in self.events if e.model == name]
        return ModelView(
            name=name,
            champion=champion,
            champion_since=datetime.fromisoformat(moves[-1].at) if moves else None,
            challenger=_quietly(lambda: registered.alias_version(challenger_alias), None) if exists else None,
            dates=self._dates(name, project, manifests, events),
            manifests=manifests,
            quality=self._quality(name, project),
            versions=_quietly(lambda: registered.versions(limit=100), []) if exists else [],
            history=history,
            events=events,
            run_url=self._run_url(name),
            task="regression" if any(not m.get("classes") for m in manifests.values()) else "classification",
        )

    def _manifests(self, name: str, project: str) -> dict[str, dict[str, Any]]:
        folder = ObjectStore(self.clients, model_folder(self.settings.data_root, project, name))
        days = sorted(n[5:] for n in folder.children() if n.startswith("date="))[-self.max_dates :]
        found = {}
        for day in days:
            try:
                manifest = read_manifest_of(folder.sub(f"date={day}"))
            except MLPlatformError:
                continue  # a corrupt manifest: `mlplatform check` names it
            if manifest is not None:
                found[day] = manifest
        return found

    def _dates(
        self, name: str, project: str, manifests: dict[str, dict[str, Any]], events: list[Event]
    ) -> list[DateStatus]:
        statuses = {
            day: DateStatus(
                day, "committed", int(m.get("rows", 0)), m.get("model", {}).get("version"), m.get("inference_run_id")
            )
            for day, m in manifests.items()
        }
        for event in events:
            if event.type == "scoring_failed" and event.date and event.details.get("variant") in (None, "champion"):
                committed = statuses.get(event.date)
                if committed is None or committed.status != "committed":
                    statuses[event.date] = DateStatus(event.date, "failed", detail=str(event.details.get("error", "")))
        for day in self._running(name, project):
            statuses.setdefault(day, DateStatus(day, "running"))
        if not statuses:
            return []
        first = datetime.fromisoformat(min(statuses)).date()
        last = datetime.fromisoformat(max(statuses)).date()
        span = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
        return [statuses.get(day, DateStatus(day, "missing")) for day in span]

    def _running(self, name: str, project: str) -> list[str]:
        folder = ObjectStore(self.clients, model_folder(self.settings.data_root, project, name))
        days = []
        for entry in folder.children(PENDING):
            try:
                days.append(parse_pending(entry, None, entry)["date"])  # the name says which date
            except MLPlatformError:
                continue
        return days

    def _quality(self, name: str, project: str) -> list[DateQuality]:
        """The realized quality `mlplatform quality` (and every label ingest) computed: read, never
        computed here."""
        folder = model_folder(self.settings.data_root, project, name, MONITORING)
        store = ObjectStore(self.clients, f"{folder}/quality")
        results = []
        for entry in sorted(store.children()):
            try:
                results.append(DateQuality(**json.loads(store.read(entry) or b"")))
            except (ValueError, TypeError):
                continue
        return sorted(results, key=lambda q: (q.date, q.variant != "champion"))

    def _run_url(self, name: str) -> str | None:
        uri = self.settings.resolved_tracking_uri
        base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"
        experiment = _quietly(lambda: self.connection.client.get_experiment_by_name(f"{name}-inference"), None)
        if experiment is None:
            return None
        return f"{base}/#/experiments/{experiment.experiment_id}/runs/{{run}}"


def _quietly(read: Any, default: Any) -> Any:
    """A registry read that may fail (a model registered elsewhere, a server down): the page shows
    what it can."""
    try:
        return read()
    except MLPlatformError:
        return default


def age_days(since: datetime | None, now: datetime | None = None) -> float | None:
    if since is None:
        return None
    return ((now or datetime.now(UTC)) - since).total_seconds() / 86400
