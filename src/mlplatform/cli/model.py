"""`mlplatform model list | promote | rollback | history`: the registered model's versions,
aliases and who moved them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import JsonOption, ModelNameOption, ReasonOption, TrackingOption
from mlplatform.redact import redact_uri

if TYPE_CHECKING:
    from mlplatform.config.settings import Settings
    from mlplatform.registry.history import AliasEvent
    from mlplatform.registry.mlflow import RegisteredModel, VersionInfo

app = typer.Typer(
    help="Registered model versions, aliases and their history.",
    no_args_is_help=True,
    epilog="Example: mlplatform model list",
)


def _registered(
    ctx: typer.Context, model_name: str | None, tracking_uri: str | None
) -> tuple[RegisteredModel, Settings]:
    from mlplatform.flows.setup import open_mlflow

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    return open_mlflow(settings).model, settings


@app.command("list", epilog="Example: mlplatform model list --model-name churn-model --limit 5 --json")
def model_list(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many versions per model, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Versions with aliases, holdout metrics and gate decisions: of every registered model, or
    of --model-name."""
    from mlplatform.flows.setup import open_mlflow
    from mlplatform.registry.mlflow import RegisteredModel
    from mlplatform.registry.mlflow.registered import registered_names

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    connection = open_mlflow(settings).connection
    names = [settings.model_name] if model_name else registered_names(connection)
    listed = {name: RegisteredModel(connection, name).versions(limit=limit) for name in names}
    if as_json:
        render.print_json(
            [asdict(v) | {"model": name, "created": v.created.isoformat()} for name, vs in listed.items() for v in vs]
        )
        return
    if not listed:
        render.stderr().print("No registered models yet: run `mlplatform train`.")
        return
    for name, versions in listed.items():
        render.stdout().print(_versions_table(settings, name, versions))


def _versions_table(settings: Settings, name: str, versions: list[VersionInfo]) -> object:
    regression = any("rmse" in v.metrics for v in versions)
    metric = settings.promotion.metric or ("rmse" if regression else "f1_macro")
    listing = render.table(
        f"{name} ({redact_uri(settings.resolved_tracking_uri)})",
        *("version", "aliases", metric, "r2" if regression else "accuracy", "gate", "created (UTC)", "run"),
    )
    for v in versions:
        gate = "archived" if v.tags.get("mlplatform.archived") == "true" else v.tags.get("promotion.decision", "")
        listing.add_row(
            v.version,
            ", ".join(v.aliases),
            render.fmt(v.metrics.get(metric)),
            render.fmt(v.metrics.get("r2" if regression else "accuracy")),
            gate,
            f"{v.created:%Y-%m-%d %H:%M:%S}",
            (v.run_id or "")[:12],
        )
    return listing


@app.command("archive", epilog="Example: mlplatform model archive 2 --model-name churn-model")
def model_archive(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Model version to archive.")],
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Archive VERSION: its aliases removed, tagged archived (the champion cannot be archived)."""
    _retire(ctx, model_name, tracking_uri, version, delete=False)


@app.command("delete-version", epilog="Example: mlplatform model delete-version 2 --yes")
def model_delete_version(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Model version to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete it (its files go with it).")] = False,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Delete VERSION from the registry (the champion cannot be deleted)."""
    if not yes:
        from mlplatform.errors import BadInputError

        raise BadInputError(f"deleting version {version} cannot be undone", "pass --yes, or archive it instead")
    _retire(ctx, model_name, tracking_uri, version, delete=True)


def _retire(ctx: typer.Context, model_name: str | None, tracking_uri: str | None, version: str, delete: bool) -> None:
    """Under the promotion lock, as the gate and promote are: nothing moves the champion meanwhile."""
    model, settings = _registered(ctx, model_name, tracking_uri)
    with model.promotion_lock():
        aliases = model.retire(version, settings.promotion.champion_alias, delete)
    lost = f" (aliases removed: {', '.join(aliases)})" if aliases else ""
    render.stdout().print(f"{settings.model_name} v{version} {'deleted' if delete else 'archived'}{lost}", markup=False)


@app.command("promote", epilog="Example: mlplatform model promote 3 --reason 'approved by review'")
def model_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Model version to make the champion.")],
    reason: ReasonOption = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even if it did worse in the shadow.")] = False,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Point the champion alias ('production') at VERSION, bypassing the gate.

    When VERSION was scored in the shadow and labels arrived, the comparison with the champion on
    the same labelled rows is printed first; with promotion.use_shadow_quality a worse challenger
    is refused unless --force."""

    def move(model: RegisteredModel, champion: str, challenger: str) -> AliasEvent:
        model.require_version(version)
        return model.promote(version, "manual", reason or "manual promotion", champion, challenger)

    _check_shadow(ctx, model_name, tracking_uri, version, force)
    _move_champion(ctx, model_name, tracking_uri, move)


def _check_shadow(
    ctx: typer.Context, model_name: str | None, tracking_uri: str | None, version: str, force: bool
) -> None:
    from mlplatform.errors import BadInputError
    from mlplatform.flows.quality import shadow_comparison

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    comparison = shadow_comparison(settings, version)
    if comparison is None:
        return
    render.stdout().print(comparison.line(), markup=False)
    promotion = settings.promotion
    if promotion.use_shadow_quality and comparison.challenger_worse(promotion.tolerance) and not force:
        raise BadInputError(
            f"version {version} did worse than the champion in the shadow ({comparison.challenger:.3f} vs "
            f"{comparison.champion:.3f} {comparison.metric})",
            "pass --force to promote it anyway, or keep the champion",
        )


@app.command("rollback", epilog="Example: mlplatform model rollback --reason 'v4 misbehaves in prod'")
def model_rollback(
    ctx: typer.Context,
    reason: ReasonOption = None,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Move the champion alias back to the previous champion."""

    def move(model: RegisteredModel, champion: str, challenger: str) -> AliasEvent:
        return model.rollback(champion, challenger, reason or "rollback")

    _move_champion(ctx, model_name, tracking_uri, move)


def _move_champion(
    ctx: typer.Context,
    model_name: str | None,
    tracking_uri: str | None,
    move: Callable[[RegisteredModel, str, str], AliasEvent],
) -> None:
    """Move the champion alias under the promotion lock (as the gate does), then say so."""
    from mlplatform.flows.events import emit

    model, settings = _registered(ctx, model_name, tracking_uri)
    with model.promotion_lock():
        event = move(model, settings.promotion.champion_alias, settings.promotion.challenger_alias)
    kind = "rolled_back" if event.action == "rollback" else "promoted"
    details = {"alias": event.alias, "previous_version": event.previous_version, "actor": event.actor}
    emit(settings, kind, model=settings.model_name, version=event.version, details=details | {"reason": event.reason})
    previous = f" (was v{event.previous_version})" if event.previous_version else ""
    render.stdout().print(
        f"{settings.model_name}@{event.alias} -> v{event.version}{previous} "
        f"by {event.actor} at {event.at}: {event.reason}",
        markup=False,
    )


@app.command("history", epilog="Example: mlplatform model history --model-name churn-model --json")
def model_history(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    tracking_uri: TrackingOption = None,
    limit: Annotated[int | None, typer.Option(help="Only the newest this many moves.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every alias move: which version held 'production' when, who moved it and why."""
    model, settings = _registered(ctx, model_name, tracking_uri)
    events = model.history()[-limit:] if limit else model.history()
    if as_json:
        render.print_json([asdict(e) for e in events])
        return
    if not events:
        render.stderr().print(f"No alias moves recorded for {settings.model_name!r} yet.")
        return
    columns = ("#", "at (UTC)", "alias", "version", "previous", "action", "by", "reason")
    listing = render.table(f"{settings.model_name} alias history", *columns)
    for e in events:
        listing.add_row(str(e.seq), e.at, e.alias, e.version, e.previous_version or "", e.action, e.actor, e.reason)
    render.stdout().print(listing)
