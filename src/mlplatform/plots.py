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
    ax.set_xlabel("mean decrease in impurity")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def drift_png(report: dict[str, Any], path: Path) -> Path:
    """Expected (training) vs actual (this batch) share per quantile bin, one panel per feature."""
    plt = _pyplot()
    features = report["features"]
    count = max(len(features), 1)
    cols = min(count, 2)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, stats) in zip(axes.flat, features.items(), strict=False):
        positions = np.arange(len(stats["expected"]))
        ax.bar(positions - 0.2, stats["expected"], width=0.4, label="training", color="#4C72B0")
        ax.bar(positions + 0.2, stats["actual"], width=0.4, label="this run", color="#DD8452")
        drifted = stats["psi"] > report["threshold"]
        ax.set_title(f"{name}: PSI {stats['psi']:.3f}, KS {stats['ks']:.3f}", color="#C44E52" if drifted else "black")
        ax.set_xlabel("training quantile bin")
        ax.set_ylabel("share of rows")
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    axes.flat[0].legend()
    fig.suptitle(f"Drift against the training profile (threshold PSI {report['threshold']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
