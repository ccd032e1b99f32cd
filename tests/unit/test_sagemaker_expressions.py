"""Pipeline parameters and expressions resolved as SageMaker resolves them at execution start."""

from __future__ import annotations

import pytest

from mlplatform.errors import ConfigError
from mlplatform.sagemaker.expressions import (
    Scope,
    as_strings,
    parameter_values,
    parse_assignments,
    references,
    resolve,
)

DEFINITION = {
    "Parameters": [
        {"Name": "Date", "Type": "String", "DefaultValue": "auto"},
        {"Name": "Count", "Type": "Integer", "DefaultValue": 1},
        {"Name": "Ratio", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
        {"Name": "Mode", "Type": "String", "DefaultValue": "a", "EnumValues": ["a", "b"]},
        {"Name": "Tracking", "Type": "String"},
    ]
}


def test_defaults_then_given_values_typed_as_declared():
    values = parameter_values(DEFINITION, {"Count": "3", "Flag": "true", "Tracking": "arn:x"})
    assert values == {"Date": "auto", "Count": 3, "Ratio": 0.5, "Flag": True, "Mode": "a", "Tracking": "arn:x"}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "pipeline parameter Tracking has no value and no default"),
        ({"Tracking": "x", "Nope": "1"}, "pipeline parameter 'Nope' is not declared"),
        ({"Tracking": "x", "Count": "two"}, "pipeline parameter Count='two' is not Integer"),
        ({"Tracking": "x", "Flag": "maybe"}, "pipeline parameter Flag='maybe' is not Boolean"),
        ({"Tracking": "x", "Mode": "c"}, "pipeline parameter Mode='c' is not allowed"),
    ],
)
def test_bad_values_are_one_line_errors(given, message):
    with pytest.raises(ConfigError) as error:
        parameter_values(DEFINITION, given)
    assert message in error.value.headline and error.value.fix


def test_get_and_join_resolve_parameters_execution_variables_and_step_properties():
    scope = Scope(
        {"Bucket": "s3://b/reports", "Count": 2},
        {"PipelineExecutionId": "abc123"},
        {"Train": {"ModelArtifacts": {"S3ModelArtifacts": "s3://b/m/model.tar.gz"}}},
    )
    join = {"On": "/", "Values": [{"Get": "Parameters.Bucket"}, {"Get": "Execution.PipelineExecutionId"}]}
    fragment = {
        "Out": {"Std:Join": join},
        "Count": {"Get": "Parameters.Count"},
        "Model": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
        "List": ["--n", {"Get": "Parameters.Count"}],
    }  # fmt: skip
    assert resolve(fragment, scope) == {
        "Out": "s3://b/reports/abc123",
        "Count": 2,
        "Model": "s3://b/m/model.tar.gz",
        "List": ["--n", 2],
    }
    assert references(fragment) == {"Parameters.Bucket", "Execution.PipelineExecutionId", "Parameters.Count",
                                    "Steps.Train.ModelArtifacts.S3ModelArtifacts"}  # fmt: skip
    assert as_strings({"a": 2, "b": True}) == {"a": "2", "b": "true"}


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ({"Get": "Parameters.Missing"}, "reads 'Parameters.Missing'"),
        ({"Get": "Steps.Later.Property"}, "reads 'Steps.Later.Property'"),
        ({"Std:JsonGet": {"Path": "x"}}, "Std:JsonGet is not supported"),
    ],
)
def test_what_cannot_be_resolved_is_an_error(fragment, message):
    with pytest.raises(ConfigError, match=message):
        resolve(fragment, Scope({}))


def test_assignments_from_the_command_line():
    assert parse_assignments(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ConfigError, match="is not NAME=VALUE"):
        parse_assignments(["nothing"])
