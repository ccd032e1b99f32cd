"""RandomForest hyperparameters: one validated model for config, env vars, `--param` and SageMaker.

SageMaker passes every hyperparameter as a string, so every field accepts its string form
("100", "None", "true") and is converted here, once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlplatform.errors import ConfigError

_NONE_STRINGS = {"none", "null", ""}


class RandomForestParams(BaseModel):
    """The subset of `RandomForestClassifier` arguments we expose, with sklearn's meaning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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

    @field_validator("*", mode="before")
    @classmethod
    def _none_from_string(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _NONE_STRINGS:
            return None
        return value


def valid_params_text() -> str:
    return ", ".join(sorted(RandomForestParams.model_fields))


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


def build_params(overrides: Mapping[str, Any], base: RandomForestParams | None = None) -> RandomForestParams:
    """Apply overrides on top of `base`; unknown names and bad values become a ConfigError."""
    base = base or RandomForestParams()
    unknown = [k for k in overrides if k not in RandomForestParams.model_fields]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, RandomForestParams.model_fields, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown hyperparameter {name!r}",
            f"{hint}valid hyperparameters are: {valid_params_text()}",
        )
    try:
        return RandomForestParams.model_validate({**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigError(*describe_validation_error(exc, RandomForestParams, "hyperparameter ")) from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> tuple[str, str]:
    """First pydantic error as (headline, fix): names the field, the value and what is allowed.

    A union field reports one error per branch; its `description` says it better in one line.
    """
    errors = exc.errors()
    first = errors[0]
    path, info = _field_path(model, first["loc"])
    if first["type"] == "extra_forbidden":
        name = str(first["loc"][len(path)])
        owner = info.annotation if info is not None else model
        valid = sorted(getattr(owner, "model_fields", {}))
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown {prefix}{'.'.join([*path, name])!r}", f"{hint}valid names: {', '.join(valid)}"
    same_field = [e["msg"] for e in errors if _field_path(model, e["loc"])[0] == path]
    if len(same_field) > 1 and info is not None and info.description:
        allowed = info.description
    else:
        allowed = "; ".join(dict.fromkeys(same_field))
    return f"invalid {prefix}{'.'.join(path) or 'value'}={first.get('input')!r}", allowed


def _field_path(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """The part of a pydantic error location that names (nested) fields, and the last field."""
    path: list[str] = []
    info = None
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            break
        path.append(part)
        info = fields[part]
        current = info.annotation
    return path, info
