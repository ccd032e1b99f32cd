"""RandomForest, the seeds' model and the default family."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind


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
    criterion: Literal["gini", "entropy", "log_loss"] = Field("gini", description="Split quality.")
    bootstrap: bool = Field(True, description="Sample rows with replacement for each tree.")
    class_weight: Literal["balanced", "balanced_subsample"] | None = Field(
        None, description="Reweight classes inversely to their frequency."
    )
    random_state: int | None = Field(42, description="Seed for reproducible trees and splits.")
    n_jobs: int | None = Field(None, description="Parallel jobs for fit/predict; -1 = all cores.")


def build(params: RandomForestParams, task: TaskKind) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**params.model_dump())


RANDOM_FOREST = ModelSpec(
    name="random_forest",
    title="RandomForest",
    params=RandomForestParams,
    build=build,
    tasks=("classification",),
    trusted_types=("sklearn.tree._tree.Tree",),
)
