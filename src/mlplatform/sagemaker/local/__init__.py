"""Run a SageMaker pipeline definition on this machine the way SageMaker runs it, without Docker.

The exact JSON Terraform deploys is executed, in four parts:

- `pipeline`: the definition parsed — parameters resolved (defaults, then the values given, as
  StartPipelineExecution does) and checked for wiring before anything starts; each step's
  `Get` / `Std:Join` expressions resolved; the resolved job request validated against botocore's
  CreateTrainingJob / CreateProcessingJob shapes; RetryPolicies applied; steps run in their
  listed order (a `DependsOn` may name only an earlier step).
- `channels`: S3 inputs downloaded into the `/opt/ml` layout (ShardedByS3Key: each host a share of
  the objects) and outputs uploaded (`model.tar.gz`, processing outputs).
- `hosts`: one process per instance running the container's entrypoint with the step's
  Environment, stopped at `StoppingCondition.MaxRuntimeInSeconds`.
- `jobs`: a Training or Processing job laid out, run and collected (failure file / exit message
  into the FailureReason).

S3 is whatever the AWS SDK points at (`AWS_ENDPOINT_URL` for a local server); the job sees the
step's environment plus the caller's AWS credentials and endpoints, standing in for the execution
role — nothing else leaks in from this shell.
"""

from mlplatform.sagemaker.local.pipeline import LocalPipeline
from mlplatform.sagemaker.local.records import Execution, StepRecord

__all__ = ["Execution", "LocalPipeline", "StepRecord"]
