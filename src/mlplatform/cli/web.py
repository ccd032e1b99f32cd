"""`mlplatform dashboard` and `mlplatform report`: the models, their dates, drift, quality and
versions on one page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import ModelNameOption, TrackingOption
from mlplatform.errors import ConfigError

TOKEN_VARIABLE = "MLPLATFORM_DASHBOARD_TOKEN"


def dashboard(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8050,
    token: Annotated[
        str | None, typer.Option(help=f"Required from visitors (env {TOKEN_VARIABLE}); needed off loopback.")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Serve the monitoring dashboard: every model, its dates, drift, quality and versions."""
    from mlplatform.web.server import LOOPBACK, serve

    token = token or os.environ.get(TOKEN_VARIABLE) or None
    if host not in LOOPBACK and not token:
        raise ConfigError(
            f"the dashboard would be open to anyone who can reach {host}:{port}",
            f"pass --token (or set {TOKEN_VARIABLE}), or bind 127.0.0.1",
        )
    settings = load(ctx, tracking_uri=tracking_uri)
    err = render.stderr()
    serve(
        settings, host, port, token, ready=lambda url: err.print(f"Dashboard on {url} (Ctrl-C stops it)", markup=False)
    )


def report(
    ctx: typer.Context,
    model_name: ModelNameOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    tracking_uri: TrackingOption = None,
) -> None:
    """Write one model's page as a self-contained HTML file (opens without a network)."""
    from mlplatform.web.report import write_report

    settings = load(ctx, model_name=model_name, tracking_uri=tracking_uri)
    path = write_report(settings, out)
    render.stdout().print(
        f"{settings.model_name}: report written to {path} ({path.stat().st_size / 1e6:.1f} MB)", markup=False
    )


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: mlplatform dashboard --port 8050")(dashboard)
    app.command(epilog="Example: mlplatform report --model-name churn-model --out churn.html")(report)
