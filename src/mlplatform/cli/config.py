"""`mlplatform config show | reference`: the effective settings with where each came from,
and every setting with its environment variable."""

from __future__ import annotations

import sys
from typing import Any

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load_with_sources
from mlplatform.cli.options import JsonOption
from mlplatform.redact import redact_uri

app = typer.Typer(
    help="Show the effective settings and where each can be set.",
    no_args_is_help=True,
    epilog="Example: mlplatform config show",
)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value and key != "hyperparameters":
            flat |= _flatten(value, f"{prefix}{key}.")
        elif key == "hyperparameters":
            flat |= {f"{prefix}{key}.{name}": item for name, item in value.items()}
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@app.command("show", epilog="Example: mlplatform --env prod config show --json")
def config_show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The settings after defaults < config/<env>.toml < env vars < flags, each with its source."""
    from mlplatform.flows.setup import model_params
    from mlplatform.models import auto

    loaded = load_with_sources(ctx)
    settings = loaded.settings
    values = settings.model_dump(mode="json") | {"resolved_tracking_uri": redact_uri(settings.resolved_tracking_uri)}
    values["tracking_uri"] = redact_uri(values["tracking_uri"]) if values["tracking_uri"] else None
    params = model_params(settings)
    if settings.model_family == auto.AUTO.name and (choice := auto.choose(params, 0)) is not None:
        params = choice[1]  # auto with hyperparameters: the family they belong to
    values["hyperparameters"] = params.model_dump(mode="json")  # the family's defaults filled in
    flat = _flatten(values)
    sources = {path: loaded.source_of(path) for path in flat if path != "resolved_tracking_uri"}
    if as_json:
        render.print_json(values | {"sources": sources})
        return
    listing = render.table(f"Settings ({settings.env})", "setting", "value", "source")
    for path, value in flat.items():
        listing.add_row(path, "(unset)" if value is None else str(value), sources.get(path, "derived"))
    render.stdout().print(listing)


@app.command("reference", epilog="Example: mlplatform config reference > settings.md")
def config_reference() -> None:
    """Every setting with its environment variable and default, as Markdown tables."""
    from mlplatform.config.reference import settings_reference_markdown
    from mlplatform.models import hyperparameters_markdown

    sys.stdout.write(settings_reference_markdown() + "\n\n" + hyperparameters_markdown() + "\n")
