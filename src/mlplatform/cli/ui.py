"""`mlplatform ui`: the MLflow UI on the embedded store."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load
from mlplatform.cli.options import TrackingOption
from mlplatform.redact import redact_uri


def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: TrackingOption = None,
) -> None:
    """Open the MLflow UI on the configured store (a remote server: prints its URL)."""
    settings = load(ctx, tracking_uri=tracking_uri)
    uri = settings.resolved_tracking_uri
    if not settings.uses_embedded_store:
        render.stdout().print(f"MLflow UI: {redact_uri(uri)}")
        return
    if not (settings.state_dir / "mlflow.db").exists():
        from mlplatform.errors import BadInputError

        raise BadInputError(f"no MLflow store at {settings.state_dir}", "run `mlplatform train` first")
    from mlplatform.flows.setup import open_mlflow

    experiment = open_mlflow(settings).tracking.find_experiment_id(settings.experiment_name)
    page = f"#/experiments/{experiment}/runs?workflowType=machine_learning" if experiment else ""
    render.stderr().print(f"MLflow UI on http://127.0.0.1:{port}/{page} (store {uri}); Ctrl+C to stop", markup=False)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # no job runner processes for a UI
    os.execv(sys.executable, command)  # the UI replaces this process: Ctrl+C stops it directly


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: mlplatform ui --port 5001   (then open http://127.0.0.1:5001)")(ui)
