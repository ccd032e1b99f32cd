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
