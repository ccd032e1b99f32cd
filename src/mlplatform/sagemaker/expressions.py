"""Pipeline parameters and the expressions of a SageMaker pipeline definition, resolved as
SageMaker resolves them when an execution starts: `{"Get": "Parameters.X"}`,
`{"Get": "Execution.PipelineExecutionId"}`, `{"Get": "Steps.S.Property"}` and
`{"Std:Join": {"On": ",", "Values": [...]}}`. Pure: used by `sagemaker params` (which values
an execution gets), the wiring check and `sagemaker run-local`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlplatform.errors import ConfigError

Value = str | int | float | bool
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Get", "Std:Join")


def parse_assignments(pairs: list[str] | None, option: str = "--param") -> dict[str, str]:
    """`["K=V", ...]` from the command line as a dict; values stay strings, as the API sends them."""
    values: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} {pair!r} is not NAME=VALUE", f"write it as {option} Name=value")
        values[name.strip()] = value
    return values


def coerce(parameter: Mapping[str, Any], value: Any) -> Value:
    """A value as the parameter's Type, as StartPipelineExecution's string values are read."""
    name, kind, text = parameter["Name"], parameter.get("Type", "String"), str(value)
    try:
        if kind == "Integer":
            return int(text)
        if kind == "Float":
            return float(text)
    except ValueError:
        raise ConfigError(f"pipeline parameter {name}={text!r} is not {kind}", f"pass a number: {name}=...") from None
    if kind == "Boolean":
        if text.lower() not in _TRUE + _FALSE:
            raise ConfigError(f"pipeline parameter {name}={text!r} is not Boolean", f"pass {name}=true or false")
        return text.lower() in _TRUE
    enum = parameter.get("EnumValues")
    if enum and text not in enum:
        raise ConfigError(f"pipeline parameter {name}={text!r} is not allowed", f"use one of {', '.join(enum)}")
    return text


def parameter_values(definition: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Value]:
    """Defaults overridden by the given values; unknown names and missing values are errors,
    because StartPipelineExecution refuses them too."""
    declared = {p["Name"]: p for p in definition.get("Parameters", [])}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ConfigError(
            f"pipeline parameter {unknown[0]!r} is not declared by the definition",
            f"declared parameters: {', '.join(declared)}",
        )
    values: dict[str, Value] = {}
    for name, parameter in declared.items():
        if name in given:
            values[name] = coerce(parameter, given[name])
        elif "DefaultValue" in parameter:
            values[name] = coerce(parameter, parameter["DefaultValue"])
    missing = [name for name in declared if name not in values]
    if missing:
        raise ConfigError(
            f"pipeline parameter {missing[0]} has no value and no default",
            f"pass --param {missing[0]}=VALUE (Terraform sets it in the schedule target)",
        )
    return values


@dataclass
class Scope:
    """What `Get` can read while an execution runs: parameters, execution variables and the
    properties of the steps that already finished."""

    parameters: Mapping[str, Value]
    execution: Mapping[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "Parameters" and rest in self.parameters:
            return self.parameters[rest]
        if head == "Execution" and rest in self.execution:
            return self.execution[rest]
        if head == "Steps":
            step, _, prop = rest.partition(".")
            value: Any = self.steps.get(step)
            for part in prop.split(".") if value is not None else []:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return value
        raise ConfigError(f"the definition reads {path!r}, which has no value here", "check the definition")


def resolve(value: Any, scope: Scope) -> Any:
    """A definition fragment with every expression replaced by its value."""
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            return scope.get(value["Get"])
        if set(value) == {"Std:Join"}:
            spec = value["Std:Join"]
            return str(spec.get("On", "")).join(_text(resolve(v, scope)) for v in spec.get("Values", []))
        if len(value) == 1 and next(iter(value)).startswith("Std:"):
            raise ConfigError(f"the function {next(iter(value))} is not supported", "use Get and Std:Join")
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_strings(mapping: Mapping[str, Any]) -> dict[str, str]:
    """Environment and hyperparameter maps hold strings once resolved, as in the job request."""
    return {k: _text(v) for k, v in mapping.items()}


def references(value: Any) -> set[str]:
    """Every `Get` path a fragment reads (to check what a value is wired to)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            found.add(value["Get"])
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found
