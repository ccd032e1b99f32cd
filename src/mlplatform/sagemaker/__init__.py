"""AWS SageMaker: the container contract, entrypoints, pipeline definitions, params JSON."""
