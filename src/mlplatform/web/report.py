"""`mlplatform report`: the dashboard's model page as one self-contained HTML file."""

from __future__ import annotations

import os
from pathlib import Path

from mlplatform.clients import Clients
from mlplatform.config.settings import Settings
from mlplatform.web.pages import model_page
from mlplatform.web.state import State


def write_report(settings: Settings, out: Path, clients: Clients | None = None) -> Path:
    """Write the model's report to `out` atomically (a reader never sees half a file)."""
    state = State(settings, clients)
    state.require(settings.model_name)
    view = state.model(settings.model_name)
    html = model_page(settings, view, report=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temporary.write_text(html)
    os.replace(temporary, out)
    return out
