"""Model families, by the name the `model_family` setting uses. Adding a family is a module
next to `random_forest.py` and one entry here."""

from __future__ import annotations

from mlplatform.errors import ConfigError
from mlplatform.models.auto import AUTO
from mlplatform.models.base import Hyperparameters, ModelSpec, TaskKind, parse_assignments
from mlplatform.models.hist_gradient_boosting import HIST_GRADIENT_BOOSTING
from mlplatform.models.random_forest import RANDOM_FOREST

SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in (AUTO, RANDOM_FOREST, HIST_GRADIENT_BOOSTING)}
DEFAULT_FAMILY = AUTO.name


def get_spec(name: str) -> ModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(f"unknown model family {name!r}", f"use one of: {', '.join(SPECS)}") from None


def hyperparameters_reference() -> list[tuple[str, str, str, str]]:
    """(family, hyperparameter, default, meaning) for every family: the README's table."""
    rows = []
    for spec in SPECS.values():
        for name, info in spec.params.model_fields.items():
            default = info.get_default(call_default_factory=True)
            rows.append((spec.name, name, "None" if default is None else str(default), info.description or ""))
    return rows


def hyperparameters_markdown() -> str:
    lines = [
        "| Family (`model_family`) | Hyperparameter (`-p NAME=VALUE`) | Default | Meaning |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{family}` | `{name}` | `{default}` | {text} |"
        for family, name, default, text in hyperparameters_reference()
    ]
    return "\n".join(lines)


__all__ = [
    "DEFAULT_FAMILY",
    "SPECS",
    "Hyperparameters",
    "ModelSpec",
    "TaskKind",
    "get_spec",
    "hyperparameters_markdown",
    "parse_assignments",
]
