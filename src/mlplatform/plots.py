"""Plots people would rather look at than numbers; written as PNG files for MLflow."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers and in containers
    import matplotlib.pyplot as plt

    return plt


def warm_plotting() -> None:
    """Import the plotting stack ahead of time (called from a background thread)."""
    _pyplot()


def confusion_matrix_png(confusion: np.ndarray, classes: Sequence[Any], path: Path, title: str) -> Path:
    plt = _pyplot()
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.0, 0.6 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(confusion, display_labels=[str(c) for c in classes]).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45 if len(classes) > 4 else "horizontal"
    )
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def feature_importance_png(names: Sequence[str], importances: np.ndarray, path: Path, top: int = 30) -> Path:
    plt = _pyplot()
    order = np.argsort(importances)[-top:]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.35 * len(order) + 1)))
    ax.barh([names[i] for i in order], importances[order], color="#4C72B0")
    ax.set_xlabel("drop in holdout score when the column is shuffled")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


DRIFT_PANELS = 6  # matplotlib spends ~0.1 s an axes: 23 panels took 4 s, on the scoring path
SCATTER_POINTS = 5000  # holdout scatters: a seeded sample beyond this (65k points drew the same cloud, 2x slower)


def drift_png(report: dict[str, Any], path: Path, panels: int = DRIFT_PANELS) -> Path:
    """PSI of every feature (most drifted first), then expected (training) vs actual (this batch)
    share per bin for the `panels` most drifted; the report's JSON and the dashboard hold the rest."""
    plt = _pyplot()
    threshold = report["threshold"]
    ranked = sorted(report["features"].items(), key=lambda item: -item[1]["psi"])
    shown = ranked[:panels]
    cols = min(max(len(shown), 1), 2)
    rows = (len(shown) + cols - 1) // cols
    summary_height = max(1.6, 0.22 * len(ranked) + 0.8)
    fig = plt.figure(figsize=(6 * cols, summary_height + 3.2 * rows))
    grid = fig.add_gridspec(rows + 1, cols, height_ratios=[summary_height] + [3.2] * rows)
    _psi_bars(fig.add_subplot(grid[0, :]), ranked, threshold)
    for index, (name, stats) in enumerate(shown):
        _drift_panel(fig.add_subplot(grid[1 + index // cols, index % cols]), name, stats, threshold, index == 0)
    hidden = f"; bins of the {len(shown)} most drifted below" if len(ranked) > len(shown) else ""
    fig.suptitle(f"Drift against the training profile (threshold PSI {threshold}{hidden})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _psi_bars(ax: Any, ranked: list[tuple[str, dict[str, Any]]], threshold: float) -> None:
    names = [name for name, _ in ranked][::-1]
    values = [stats["psi"] for _, stats in ranked][::-1]
    ax.barh(names, values, color=["#C44E52" if value > threshold else "#4C72B0" for value in values])
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("PSI (population stability index) against training")


def _drift_panel(ax: Any, name: str, stats: dict[str, Any], threshold: float, legend: bool) -> None:
    positions = np.arange(len(stats["expected"]))
    ax.bar(positions - 0.2, stats["expected"], width=0.4, label="training", color="#4C72B0")
    ax.bar(positions + 0.2, stats["actual"], width=0.4, label="this run", color="#DD8452")
    ks = f", KS {stats['ks']:.3f}" if stats.get("ks") is not None else ""
    ax.set_title(f"{name}: PSI {stats['psi']:.3f}{ks}", color="#C44E52" if stats["psi"] > threshold else "black")
    if stats.get("kind") == "categorical":
        ax.set_xticks(positions, [str(label)[:14] for label in stats["edges"]], rotation=45, ha="right")
        ax.set_xlabel("category")
    else:
        ax.set_xlabel("training quantile bin")
    ax.set_ylabel("share of rows")
    if legend:
        ax.legend()


def _thinned(x: np.ndarray, y: np.ndarray, off_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SCATTER_POINTS rows: the 5% farthest from the reference line, then a seeded sample."""
    farthest = np.argsort(-np.abs(np.nan_to_num(off_line)), kind="stable")[: SCATTER_POINTS // 20]
    rest = np.setdiff1d(np.arange(len(x)), farthest)
    sample = np.random.default_rng(0).choice(rest, SCATTER_POINTS - len(farthest), replace=False)
    pick = np.concatenate([farthest, sample])
    return x[pick], y[pick]


def _scatter(x: np.ndarray, y: np.ndarray, path: Path, labels: tuple[str, str, str], line: str) -> Path:
    """One holdout scatter with a reference line: the diagonal or zero. At most SCATTER_POINTS
    rows (more points only draw the same cloud, slower): the rows farthest from the line, so the
    worst errors always show, and a seeded sample of the rest."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5) if line == "diagonal" else (6.5, 4))
    title = labels[2]
    if len(x) > SCATTER_POINTS:
        title += f" ({SCATTER_POINTS:,} of {len(x):,} rows)"
        x, y = _thinned(x, y, y - x if line == "diagonal" else y)
    ax.scatter(x, y, s=8, alpha=0.5, color="#4C72B0")
    if line == "diagonal":
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([low, high], [low, high], color="#C44E52", linewidth=1)
    else:
        ax.axhline(0.0, color="#C44E52", linewidth=1)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def predicted_vs_actual_png(actual: np.ndarray, predicted: np.ndarray, path: Path, target: str) -> Path:
    """Each holdout row: its label against the prediction; the diagonal is a perfect model."""
    return _scatter(
        actual, predicted, path, (f"actual {target}", f"predicted {target}", "Holdout: predicted vs actual"), "diagonal"
    )


def residuals_png(actual: np.ndarray, predicted: np.ndarray, path: Path, target: str) -> Path:
    """Residual (actual - predicted) against the prediction: patterns mean missed structure."""
    return _scatter(
        predicted,
        actual - predicted,
        path,
        (f"predicted {target}", "residual (actual - predicted)", "Holdout residuals"),
        "zero",
    )
