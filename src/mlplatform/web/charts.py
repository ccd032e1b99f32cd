"""The model page's charts, as Plotly figures (JSON-ready dicts): a calendar of dates, drift per
feature and date, the prediction mix over dates, realized quality with its interval, and the
version timeline. Built from a `ModelView`; no I/O."""

from __future__ import annotations

from datetime import date as Date
from itertools import pairwise
from typing import Any

from mlplatform.web.state import ModelView

STATUS_COLOURS = {"committed": "#2e7d32", "failed": "#c62828", "running": "#f9a825", "missing": "#bdbdbd"}
STATUS_CODE = {"missing": 0, "committed": 1, "running": 2, "failed": 3}
LAYOUT = {"margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "height": 300, "template": "plotly_white"}


def _figure(data: list[dict[str, Any]], title: str, **layout: Any) -> dict[str, Any]:
    return {"data": data, "layout": LAYOUT | {"title": {"text": title, "x": 0}} | layout}


def calendar(view: ModelView) -> dict[str, Any]:
    """A week-by-weekday grid of dates, coloured by what happened to each; a click opens its run."""
    if not view.dates:
        return _figure([], "Dates scored")
    days = [Date.fromisoformat(d.date) for d in view.dates]
    monday = days[0].toordinal() - days[0].weekday()
    weeks = [(day.toordinal() - monday) // 7 for day in days]
    colours = [
        [0, STATUS_COLOURS["missing"]],
        [0.33, STATUS_COLOURS["committed"]],
        [0.66, STATUS_COLOURS["running"]],
        [1, STATUS_COLOURS["failed"]],
    ]
    url = view.run_url or ""
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": weeks,
        "y": [day.weekday() for day in days],
        "marker": {
            "symbol": "square",
            "size": 13,
            "color": [STATUS_CODE[d.status] for d in view.dates],
            "colorscale": colours,
            "cmin": 0,
            "cmax": 3,
        },
        "text": [
            f"{d.date}: {d.status}"
            + (f", {d.rows:,} rows, v{d.version}" if d.rows else "")
            + (f" ({d.detail[:80]})" if d.detail else "")
            for d in view.dates
        ],
        "customdata": [url.replace("{run}", d.run_id) if url and d.run_id else "" for d in view.dates],
        "hoverinfo": "text",
        "name": "dates",
    }
    ticks = {"tickvals": list(range(7)), "ticktext": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
    first_of_week = {}
    for week, day in zip(weeks, days, strict=True):
        first_of_week.setdefault(week, day)
    shown = sorted(first_of_week)[:: max(1, len(first_of_week) // 12)]
    return _figure(
        [trace],
        "Dates scored (click a date for its MLflow run)",
        yaxis=ticks | {"autorange": "reversed", "zeroline": False, "showgrid": False},
        xaxis={
            "tickvals": shown,
            "ticktext": [first_of_week[w].strftime("%b %-d") for w in shown],
            "showgrid": False,
            "zeroline": False,
        },
        height=260,
    )


def drift_heatmap(view: ModelView) -> dict[str, Any]:
    """PSI per feature and date; a click shows that feature's distributions on that date."""
    days = [d for d, m in view.manifests.items() if m.get("monitoring", {}).get("drift")]
    features = sorted({f for d in days for f in view.manifests[d]["monitoring"]["drift"]["features"]})
    if not days:
        return _figure([], "Drift (PSI per feature and date): no drift reports yet")
    z = [[view.manifests[d]["monitoring"]["drift"]["features"].get(f, {}).get("psi") for d in days] for f in features]
    threshold = view.manifests[days[-1]]["monitoring"]["drift"]["threshold"]
    trace = {
        "type": "heatmap",
        "x": days,
        "y": features,
        "z": z,
        "zmin": 0,
        "zmax": max(threshold * 2, 0.01),
        "colorscale": [[0, "#f1f8e9"], [0.5, "#ffb300"], [1, "#b71c1c"]],
        "colorbar": {"title": {"text": "PSI"}},
        "hovertemplate": "%{y} on %{x}: PSI %{z:.3f}<extra></extra>",
    }
    longest = max((len(f) for f in features), default=8)
    return _figure(
        [trace],
        f"Drift: PSI against training (above {threshold:g} = drifted)",
        height=max(220, 80 + 28 * len(features)),
        margin=LAYOUT["margin"] | {"l": min(40 + 7 * longest, 260)},
    )


def distribution(view: ModelView, day: str, feature: str) -> dict[str, Any]:
    """Training vs that date's share of rows per bin (or category) of one feature."""
    stats = view.manifests.get(day, {}).get("monitoring", {}).get("drift", {}).get("features", {}).get(feature)
    if stats is None:
        return _figure([], f"{feature} on {day}: no drift report")
    labels = [str(e) for e in stats["edges"]] if stats.get("kind") == "categorical" else _bins(stats["edges"])
    bars = [
        {"type": "bar", "x": labels, "y": stats["expected"], "name": "training", "marker": {"color": "#4C72B0"}},
        {"type": "bar", "x": labels, "y": stats["actual"], "name": day, "marker": {"color": "#DD8452"}},
    ]
    return _figure(bars, f"{feature} on {day}: PSI {stats['psi']:.3f}", barmode="group", yaxis={"title": "share"})


def _bins(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    inner = [f"{a:.3g} to {b:.3g}" for a, b in pairwise(edges)]
    return [f"< {edges[0]:.3g}", *inner, f">= {edges[-1]:.3g}"]


def predictions(view: ModelView) -> dict[str, Any]:
    """The class mix per date (classification) or the mean and range of predicted values."""
    days = list(view.manifests)
    monitoring = [view.manifests[d].get("monitoring", {}) for d in days]
    if view.task == "regression":
        stats = [m.get("prediction_stats", {}) for m in monitoring]
        lines = [
            {"type": "scatter", "mode": "lines", "x": days, "y": [s.get(key) for s in stats], "name": name}
            for key, name in (("prediction_mean", "mean"), ("prediction_min", "min"), ("prediction_max", "max"))
        ]
        return _figure(lines, "Predicted values over dates")
    classes = sorted({c for m in monitoring for c in m.get("class_counts", {})})
    totals = [max(sum(m.get("class_counts", {}).values()), 1) for m in monitoring]
    areas = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "one",
            "x": days,
            "name": label,
            "y": [m.get("class_counts", {}).get(label, 0) / t for m, t in zip(monitoring, totals, strict=True)],
        }
        for label in classes
    ]
    return _figure(areas, "Predicted class mix over dates", yaxis={"tickformat": ".0%", "range": [0, 1]})


def quality(view: ModelView) -> dict[str, Any]:
    """Realized quality with its 95% interval per variant, the reference and the estimate."""
    traces: list[dict[str, Any]] = []
    colours = {"champion": "#1565c0", "challenger": "#6a1b9a"}
    metric = next((q.metric for q in view.quality), "f1_macro")
    for variant in ("champion", "challenger"):
        rows = [q for q in view.quality if q.variant == variant and q.value is not None]
        if not rows:
            continue
        colour = colours[variant]
        days = [q.date for q in rows]
        traces += [
            {
                "type": "scatter",
                "x": days + days[::-1],
                "y": [q.ci_high for q in rows] + [q.ci_low for q in rows][::-1],
                "fill": "toself",
                "fillcolor": colour + "22",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "name": f"{variant} 95% interval",
                "showlegend": False,
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": days,
                "y": [q.value for q in rows],
                "name": f"{variant}",
                "line": {"color": colour},
                "text": [f"v{q.model_version}, {q.labels:,} labels ({q.coverage:.0%}), {q.status}" for q in rows],
            },
        ]
    champion = [q for q in view.quality if q.variant == "champion"]
    if champion:
        days = [q.date for q in champion]
        traces += [
            {
                "type": "scatter",
                "mode": "lines",
                "x": days,
                "y": [q.reference for q in champion],
                "name": "reference",
                "line": {"dash": "dot", "color": "#455a64"},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "x": days,
                "y": [q.estimate for q in champion],
                "name": "label-free estimate",
                "line": {"dash": "dash", "color": "#ef6c00"},
            },
            {
                "type": "bar",
                "x": days,
                "y": [q.coverage for q in champion],
                "name": "label coverage",
                "yaxis": "y2",
                "marker": {"color": "#90a4ae"},
                "opacity": 0.35,
            },
        ]
    title = f"Realized {metric} from labels (reference: holdout; estimate: from calibrated probabilities)"
    return _figure(
        traces,
        title,
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "tickformat": ".0%",
            "showgrid": False,
            "tickvals": [0, 0.5, 1],
        },
        legend={"orientation": "h"},
        margin=LAYOUT["margin"] | {"r": 60},  # room for the coverage axis on the right
    )


def timeline(view: ModelView) -> dict[str, Any]:
    """Registrations, gate decisions and alias moves on one time axis."""
    points: list[tuple[str, str, str]] = []
    for version in view.versions:
        decision = version.tags.get("promotion.decision", "")
        points.append((version.created.isoformat(), "registered", f"v{version.version} registered; gate: {decision}"))
    for move in view.history:
        points.append((move.at, move.action, f"{move.alias} -> v{move.version} by {move.actor}: {move.reason}"))
    rows = {"registered": 0, "challenger": 1, "promote": 2, "manual": 2, "rollback": 3}
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": [p[0] for p in points],
        "y": [rows.get(p[1], 1) for p in points],
        "text": [p[2] for p in points],
        "hoverinfo": "text+x",
        "marker": {"size": 11, "color": [rows.get(p[1], 1) for p in points], "colorscale": "Viridis"},
    }
    ticks = {"tickvals": [0, 1, 2, 3], "ticktext": ["registered", "challenger", "promoted", "rolled back"]}
    return _figure([trace], "Versions", yaxis=ticks, height=240, margin=LAYOUT["margin"] | {"l": 100})
