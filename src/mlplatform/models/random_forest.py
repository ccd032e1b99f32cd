"""RandomForest, the seeds' model and the default family.

`max_features="auto"` (the default) is what the seeds' `auto` meant in scikit-learn before 1.3:
the square root of the features for a classifier, all of them for a regressor (a regression
forest on sqrt(features) reached R² 0.77 where all features reach 0.93). `max_samples="auto"`
grows each tree on at most ROW_CAP rows, so training time stays bounded on large tables.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind, estimator_for
from mlplatform.models.preprocessing import DATETIME_TRUSTED


class RandomForestParams(Hyperparameters):
    """The subset of `RandomForestClassifier` arguments we expose, with sklearn's meaning."""

    n_estimators: int = Field(100, ge=1, le=10_000, description="Number of trees.")
    max_depth: int | None = Field(10, ge=1, description="Maximum tree depth; None = unlimited.")
    min_samples_split: int = Field(2, ge=2, description="Minimum rows to split a node.")
    min_samples_leaf: int = Field(1, ge=1, description="Minimum rows in a leaf.")
    max_features: (
        Literal["auto", "sqrt", "log2"] | Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, le=1)] | None
    ) = Field(
        "auto",
        description="features per split: 'auto' (sqrt for classification, all for regression), 'sqrt', "
        "'log2', a count >= 1, a fraction in (0, 1] or None (all)",
    )
    max_samples: Literal["auto"] | Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, le=1)] | None = Field(
        "auto",
        description="rows drawn for each tree: 'auto' (all, at most 100,000), a count, a fraction or None (all)",
    )
    criterion: (
        Literal["gini", "entropy", "log_loss", "squared_error", "absolute_error", "friedman_mse", "poisson"] | None
    ) = Field(None, description="Split quality; None = gini (classification) or squared_error (regression).")
    bootstrap: bool = Field(True, description="Sample rows with replacement for each tree.")
    class_weight: Literal["balanced", "balanced_subsample"] | None = Field(
        None, description="Reweight classes inversely to their frequency (classification only)."
    )
    random_state: int | None = Field(42, description="Seed for reproducible trees and splits.")
    n_jobs: int | None = Field(None, description="Parallel jobs for fit/predict; -1 = all cores.")


ROW_CAP = 100_000  # rows a tree is grown on with max_samples="auto": fit time grows with it


def build(params: RandomForestParams, task: TaskKind, categorical: list[int]) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    arguments = params.model_dump()
    arguments["criterion"] = arguments["criterion"] or ("gini" if task == "classification" else "squared_error")
    if arguments["max_features"] == "auto":
        arguments["max_features"] = "sqrt" if task == "classification" else 1.0
    if arguments["max_samples"] == "auto" or not arguments["bootstrap"]:
        arguments["max_samples"] = None  # unsettled (no row count) or no bootstrap: every row
    return estimator_for(task, RandomForestClassifier, RandomForestRegressor, arguments)


def bound(params: RandomForestParams, rows: int) -> tuple[RandomForestParams, str | None]:
    """max_samples="auto": every row up to ROW_CAP, then ROW_CAP rows drawn for each tree."""
    if params.max_samples != "auto" or rows <= ROW_CAP or not params.bootstrap:
        return params, None
    note = (
        f"each tree is grown on {ROW_CAP:,} of the {rows:,} training rows (max_samples), which bounds "
        "training time; -p max_samples=None uses every row"
    )
    return params.model_copy(update={"max_samples": ROW_CAP}), note


RANDOM_FOREST = ModelSpec(
    "random_forest",
    "RandomForest",
    RandomForestParams,
    build,
    trusted_types=("numpy.dtype", "sklearn.tree._tree.Tree", *DATETIME_TRUSTED),
    bound=bound,
)
