"""`mlplatform dev`: MLflow, S3 and Kafka on loopback, until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from mlplatform.cli import render
from mlplatform.cli.context import load


def dev(
    ctx: typer.Context,
    folder: Annotated[
        Path | None, typer.Option(help="Where the stack keeps its stores and logs (default: <home>/dev).")
    ] = None,
) -> None:
    """Start a local MLflow server, S3 API server and Kafka broker; print the environment to use them.

    The `export` lines also go to <folder>/dev.env: `source` it in another shell, and train, score
    (to s3://mlplatform-data/ml), publish, dashboard and scheduler use the stack unchanged. Ctrl-C
    stops every process it started."""
    from mlplatform.devstack.stack import running_stack

    folder = folder or load(ctx).state_dir / "dev"
    err = render.stderr()
    err.print("Starting the local stack (MLflow takes ~15 s) ...")
    with running_stack(folder.resolve()) as stack:
        env_file = folder / "dev.env"
        env_file.write_text(stack.exports())
        render.stdout().print(stack.exports(), end="", markup=False)
        checks = {
            "mlflow": stack.mlflow_uri,
            "s3": f"{stack.s3_endpoint} (bucket mlplatform-data)",
            "kafka": f"{stack.kafka_bootstrap} (topics ml-predictions, mlplatform-events)",
        }
        for name, where in checks.items():
            err.print(f"[green]OK[/]   {name}: {where}")
        err.print(f"Environment written to {env_file}: `source {env_file}` in another shell. Ctrl-C stops the stack.")
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        stopped.wait()
    err.print("Stack stopped.")


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: mlplatform dev   (then, elsewhere: source .mlplatform/dev/dev.env)")(dev)
