"""What the root command passes to every command: the global options, and one way from flags
to settings (every flag goes through the loader, so every flag is validated)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from mlplatform.config.loading import LoadedSettings
    from mlplatform.config.settings import Settings


@dataclass
class CliState:
    env: str | None = None
    home: Path | None = None
    verbose: bool = False
    strict: bool = False


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, CliState) else CliState()


def load(ctx: typer.Context, **flags: Any) -> Settings:
    """Settings from defaults < config/<env>.toml < env vars < these flags (None = not given;
    nested settings as dicts: `inference={"rows": 10}`)."""
    return load_with_sources(ctx, **flags).settings


def load_with_sources(ctx: typer.Context, **flags: Any) -> LoadedSettings:
    from mlplatform.flows.setup import load_checked

    cli = state(ctx)
    return load_checked(cli.env, home=cli.home, strict=cli.strict or None, **flags)
