"""The model-family seam: everything training, the registry and SageMaker need to know about a
kind of model, so none of them names a scikit-learn class.

A family is a `ModelSpec`: its validated hyperparameters, how to build an unfitted estimator
from them, which tasks it can learn, whether it takes missing values and categories natively,
and which types skops must trust to load it back.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from mlplatform.errors import ConfigError, describe_validation_error

TaskKind = Literal["classification", "regression"]
_NONE_STRINGS = {"none", "null", ""}


class Hyperparameters(BaseModel):
    """Base of every family's hyperparameters. SageMaker passes each value as a string, so every
    field accepts its string form ("100", "None", "true") and is converted here, once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _none_from_string(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _NONE_STRINGS:
            return None
        return value


@dataclass(frozen=True)
class ModelSpec:
    """One model family."""

    name: str  # the value of the `model_family` setting
    title: str  # for people: plots, descriptions
    params: type[Hyperparameters]
    # (validated params, task, indices of categorical columns after preprocessing) -> estimator
    build: Callable[[Any, TaskKind, list[int]], Any]
    trusted_types: tuple[str, ...]  # what skops must trust to load a fitted model back
    native: bool = False  # takes NaN and categorical codes itself (no imputation, no one-hot)
    tasks: tuple[TaskKind, ...] = ("classification", "regression")
    # levels a categorical feature may keep with these params (None: the preprocessing default)
    category_cap: Callable[[Any], int] | None = None
    # (params, training rows) -> params with sizes that depend on the data settled, and a note
    # saying what was bounded (None if nothing): keeps training time bounded on large tables
    bound: Callable[[Any, int], tuple[Any, str | None]] | None = None

    def for_rows(self, params: Hyperparameters, rows: int) -> tuple[Any, str | None]:
        """`params` for a training split of `rows` rows, and what was bounded (or None)."""
        return self.bound(params, rows) if self.bound is not None else (params, None)

    def parse_params(
        self, overrides: Mapping[str, Any], base: Hyperparameters | None = None, prefix: str = "hyperparameter "
    ) -> Any:
        """Validate `overrides` on top of `base` (defaults); unknown names and bad values are a
        ConfigError that names the hyperparameter (after `prefix`) and lists what is allowed."""
        fields = self.params.model_fields
        unknown = [key for key in overrides if key not in fields]
        if unknown:
            close = difflib.get_close_matches(unknown[0], fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown hyperparameter {unknown[0]!r} for {self.name}",
                f"{hint}valid hyperparameters are: {', '.join(sorted(fields))}",
            )
        start = base.model_dump() if base is not None else {}
        try:
            return self.params.model_validate({**start, **overrides})
        except ValidationError as exc:
            raise ConfigError(*describe_validation_error(exc, self.params, prefix)) from None

    def as_strings(self, params: Hyperparameters) -> dict[str, str]:
        """SageMaker's form: every value a string, None as "None"."""
        return {key: "None" if value is None else str(value) for key, value in params.model_dump().items()}


CLASSIFICATION_CRITERIA = ("gini", "entropy", "log_loss")


def estimator_for(task: TaskKind, classifier: type, regressor: type, arguments: dict[str, Any]) -> Any:
    """The family's classifier or regressor. Hyperparameters that only make sense for the other
    task are an error, not silently ignored."""
    criterion = arguments.get("criterion")
    if criterion is not None and (criterion in CLASSIFICATION_CRITERIA) != (task == "classification"):
        other = "a classifier" if task == "classification" else "a regressor"
        raise ConfigError(
            f"hyperparameter criterion={criterion!r} does not fit {other}",
            "classifiers take gini, entropy or log_loss; regressors squared_error, absolute_error, "
            "friedman_mse or poisson (or leave it unset)",
        )
    if task == "classification":
        return classifier(**arguments)
    if arguments.pop("class_weight", None) is not None:
        raise ConfigError("hyperparameter class_weight applies to classifiers only", "leave it unset for regression")
    return regressor(**arguments)


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """Turn `["n_estimators=200", "max_depth=None"]` into a dict, rejecting malformed items."""
    parsed: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"hyperparameter {item!r} is not of the form key=value",
                "write it as --param n_estimators=200",
            )
        parsed[key.strip()] = value.strip()
    return parsed
