"""The pages as HTML: the overview of every model, one page per model. The same model page is
the static report, with Plotly's JavaScript and every chart's data inlined (no request leaves the
file when it is opened)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from mlplatform.config.settings import Settings
from mlplatform.redact import redact_uri
from mlplatform.web import charts
from mlplatform.web.state import ModelView, State, age_days

DRIFT_CELLS = 40_000  # feature x date cells of distributions a page carries (older dates: the heatmap only)


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("mlplatform.web", "templates"), autoescape=select_autoescape(["html"]))


def plotly_js_path() -> Path:
    """Plotly's JavaScript as the `plotly` package ships it: served by the dashboard, inlined in
    reports, never fetched from the internet."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _common(settings: Settings, title: str, root: str, query: str, report: bool) -> dict[str, Any]:
    return {
        "title": title,
        "root": root,
        "query": query,
        "report": report,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "source": f"{redact_uri(settings.resolved_tracking_uri)} and {settings.data_root}",
        "subtitle": settings.env,
        "inline_plotly": plotly_js_path().read_text() if report else None,
    }


def _badge(status: str | None) -> str:
    return {"ok": "ok", "committed": "ok", "none": "ok", "degraded": "bad", "failed": "bad", "drifted": "bad"}.get(
        status or "", "warn" if status in ("running", "insufficient", "missing") else "none"
    )


def _age(days: float | None) -> str:
    if days is None:
        return ""
    return f"{days * 24:.0f} hours" if days < 2 else f"{days:.0f} days"


def overview_row(view: ModelView, next_runs: str, missed: int) -> dict[str, Any]:
    last = view.last
    drifted = (
        view.manifests[last.date].get("monitoring", {}).get("drifted") if last and last.date in view.manifests else None
    )
    quality = view.latest_quality()
    drift = "unknown" if drifted is None else ("drifted" if drifted else "none")
    return {
        "name": view.name,
        "champion": view.champion,
        "age": _age(age_days(view.champion_since)),
        "last_date": last.date if last else None,
        "last_status": last.status if last else None,
        "last_class": _badge(last.status if last else None),
        "drift": drift + (f": {', '.join(drifted[:3])}" if drifted else ""),
        "drift_class": _badge(drift),
        "quality": f"{quality.status} ({quality.date})" if quality else "no labels",
        "quality_class": _badge(quality.status if quality else None),
        "next_runs": next_runs,
        "missed": missed,
    }


def overview_page(settings: Settings, state: State, root: str = "/", query: str = "") -> str:
    from mlplatform.flows.checks import check_schedules
    from mlplatform.flows.scheduled import jobs_for

    now = datetime.now(UTC)
    upcoming = []
    for job in jobs_for(settings):
        fire = job.schedule.next_after(now)
        if fire is not None:
            upcoming.append(f"{job.pipeline} {fire:%Y-%m-%d %H:%M}")
    missed_lines = [c for c in check_schedules(settings, now) if c.status == "FAIL"]
    missed = sum(
        int(c.detail.split()[0].rstrip("+")) for c in missed_lines if c.detail.split()[0].rstrip("+").isdigit()
    )
    rows = [overview_row(state.model(name), ", ".join(upcoming), missed) for name in state.model_names()]
    context = _common(settings, "Models", root, query, report=False) | {"rows": rows}
    return str(_environment().get_template("overview.html").render(**context))


def model_page(settings: Settings, view: ModelView, root: str = "/", query: str = "", report: bool = False) -> str:
    figures = {
        "calendar": charts.calendar(view),
        "quality": charts.quality(view),
        "drift": charts.drift_heatmap(view),
        "predictions": charts.predictions(view),
        "timeline": charts.timeline(view),
    }
    drift = _drift_data(view)
    latest = max(drift) if drift else None
    first_drift = None
    if latest:
        worst = max(drift[latest].items(), key=lambda item: item[1]["psi"])[0]
        first_drift = f"{json.dumps(latest)}, {json.dumps(worst)}"
    context = (
        _common(settings, view.name, root, query, report)
        | _cards(view)
        | {
            "view": view,
            "figures": json.dumps(figures, default=str),
            "drift": json.dumps(drift, default=str),
            "first_drift": first_drift,
            "events": [_event_row(e) for e in reversed(view.events[-30:])],
        }
    )
    return str(_environment().get_template("model.html").render(**context))


def _drift_data(view: ModelView) -> dict[str, dict[str, Any]]:
    """{date: {feature: bins}} for the newest dates that fit DRIFT_CELLS."""
    found: dict[str, dict[str, Any]] = {}
    cells = 0
    for day in reversed(list(view.manifests)):
        features = view.manifests[day].get("monitoring", {}).get("drift", {}).get("features", {})
        cells += len(features)
        if cells > DRIFT_CELLS:
            break
        if features:
            found[day] = features
    return found


def _cards(view: ModelView) -> dict[str, str]:
    last, quality = view.last, view.latest_quality()
    drift = view.manifests.get(last.date, {}).get("monitoring", {}) if last else {}
    return {
        "champion_age": f"for {_age(age_days(view.champion_since))}" if view.champion_since else "",
        "last_date": last.date if last else "never",
        "last_status": last.status if last else "",
        "quality_value": f"{quality.value:.3f}" if quality and quality.value is not None else "no labels",
        "quality_status": f"{quality.status}, {quality.metric} on {quality.date}" if quality else "",
        "drift_value": "drifted" if drift.get("drifted") else ("none" if "drifted" in drift else "unknown"),
        "drift_detail": ", ".join(drift.get("drifted", [])[:4])
        or (f"max PSI {drift['max_psi']:.3f}" if "max_psi" in drift else ""),
    }


def _event_row(event: Any) -> dict[str, Any]:
    def shown(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    details = ", ".join(f"{k}={shown(v)}" for k, v in event.details.items() if not isinstance(v, dict | list))
    return {
        "time": event.time,
        "type": event.type,
        "version": event.version,
        "date": event.date,
        "summary": details[:200],
    }
