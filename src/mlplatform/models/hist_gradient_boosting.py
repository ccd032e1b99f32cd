"""HistGradientBoosting: missing values and categories handled natively, and much faster than
a forest on large tables."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind, estimator_for
from mlplatform.models.preprocessing import DATETIME_TRUSTED, NATIVE_MAX_CATEGORIES


class HistGradientBoostingParams(Hyperparameters):
    """The subset of `HistGradientBoosting{Classifier,Regressor}` arguments we expose."""

    learning_rate: float = Field(0.1, gt=0, le=1, description="Shrinkage of each tree's contribution.")
    max_iter: int = Field(100, ge=1, le=10_000, description="Boosting iterations (trees per class).")
    max_leaf_nodes: int | None = Field(31, ge=2, description="Leaves per tree; None = unlimited.")
    max_depth: int | None = Field(None, ge=1, description="Maximum tree depth; None = unlimited.")
    min_samples_leaf: int = Field(20, ge=1, description="Minimum rows in a leaf.")
    l2_regularization: float = Field(0.0, ge=0, description="L2 penalty on leaf values.")
    max_bins: int = Field(255, ge=2, le=255, description="Bins per numeric feature.")
    early_stopping: Literal["auto"] | bool = Field(
        "auto", description="Stop when the validation score stops improving ('auto': on above 10,000 rows)."
    )
    class_weight: Literal["balanced"] | None = Field(
        None, description="Reweight classes inversely to their frequency (classification only)."
    )
    random_state: int | None = Field(42, description="Seed for reproducible splits and early-stopping sets.")


def build(params: HistGradientBoostingParams, task: TaskKind, categorical: list[int]) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    arguments = params.model_dump() | {"categorical_features": categorical or None}
    return estimator_for(task, HistGradientBoostingClassifier, HistGradientBoostingRegressor, arguments)


# What skops meets in a fitted model: its tree predictors and the validation helper they hold.
TRUSTED = (
    "numpy.dtype",
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    *DATETIME_TRUSTED,
)
HIST_GRADIENT_BOOSTING = ModelSpec(
    "hist_gradient_boosting",
    "HistGradientBoosting",
    HistGradientBoostingParams,
    build,
    TRUSTED,
    native=True,
    category_cap=lambda params: min(params.max_bins, NATIVE_MAX_CATEGORIES),  # more levels than bins: a crash
)
