"""RandomForest, the seeds' model and the default family."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind, estimator_for


class RandomForestParams(Hyperparameters):
    """The subset of `RandomForestClassifier` arguments we expose, with sklearn's meaning."""

    n_estimators: int = Field(100, ge=1, le=10_000, description="Number of trees.")
    max_depth: int | None = Field(10, ge=1, description="Maximum tree depth; None = unlimited.")
    min_samples_split: int = Field(2, ge=2, description="Minimum rows to split a node.")
    min_samples_leaf: int = Field(1, ge=1, description="Minimum rows in a leaf.")
    max_features: Literal["sqrt", "log2"] | Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, le=1)] | None = (
        Field(
            "sqrt",
            description="features per split: 'sqrt', 'log2', a count >= 1, a fraction in (0, 1] or None",
        )
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


def build(params: RandomForestParams, task: TaskKind, categorical: list[int]) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    arguments = params.model_dump()
    arguments["criterion"] = arguments["criterion"] or ("gini" if task == "classification" else "squared_error")
    return estimator_for(task, RandomForestClassifier, RandomForestRegressor, arguments)


RANDOM_FOREST = ModelSpec("random_forest", "RandomForest", RandomForestParams, build,
                          trusted_types=("numpy.dtype", "sklearn.tree._tree.Tree"))  # fmt: skip
