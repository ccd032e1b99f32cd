"""Check rendered pipeline definitions against botocore's bundled SageMaker service model: the
real CreateTrainingJob / CreateProcessingJob request shapes, offline."""

from __future__ import annotations

from typing import Any

from mlplatform.sagemaker.expressions import is_expression


def _placeholder(shape: Any) -> Any:
    """A value of the right type for a `Get` / `Std:Join` expression, so botocore can check the rest."""
    kind = shape.type_name
    if kind == "integer":
        return max(shape.metadata.get("min", 1), 1)
    if kind == "boolean":
        return True
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        return "x" * max(int(shape.metadata.get("min", 1)), 1)
    return "x"


def _substitute(value: Any, shape: Any) -> Any:
    if is_expression(value):
        return _placeholder(shape)
    if isinstance(value, dict) and shape.type_name == "structure":
        return {k: _substitute(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if isinstance(value, dict) and shape.type_name == "map":
        return {k: _substitute(v, shape.value) for k, v in value.items()}
    if isinstance(value, list) and shape.type_name == "list":
        return [_substitute(v, shape.member) for v in value]
    return value


OPERATIONS = {
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
}


def _input_shape(operation: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(operation).input_shape


def validate_step_arguments(definition: dict[str, Any]) -> list[str]:
    """Problems in each step's Arguments against the real CreateTrainingJob / CreateProcessingJob
    request shapes (required and unknown keys, types, lengths, enums); empty when valid."""
    problems: list[str] = []
    for step in definition["Steps"]:
        operation, name_key = OPERATIONS[step["Type"]]
        request = {name_key: "pipeline-step", **_substitute(step["Arguments"], _input_shape(operation))}
        problems += validate_job_request(step["Type"], request, step["Name"])
    return problems


def validate_job_request(step_type: str, request: dict[str, Any], label: str) -> list[str]:
    """Problems in one resolved job request (what SageMaker checks when the step starts it)."""
    from botocore.validate import ParamValidator

    operation, _ = OPERATIONS[step_type]
    shape = _input_shape(operation)
    problems = []
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        problems.append(f"{label} ({operation}): {report.generate_report()}")
    return problems + [f"{label}: {p}" for p in _enum_problems(request, shape, operation)]


def _enum_problems(value: Any, shape: Any, path: str) -> list[str]:
    problems = []
    if shape.type_name == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {', '.join(shape.enum[:8])}...")
    elif shape.type_name == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                problems += _enum_problems(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _enum_problems(item, shape.member, f"{path}[{index}]")
    return problems
