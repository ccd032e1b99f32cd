# SageMaker pipelines (training, processing) rendered by mlplatform, their schedules, and
# least-privilege IAM. Every deployment-time value (tracking server ARN, images, S3 paths, Kafka)
# reaches the steps as a pipeline parameter set here, in the schedule targets; the committed
# definition carries none of them. Kafka is not infrastructure here: the processing job talks to it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name      = "${var.project_name}-${var.environment}"
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  bucket    = element(split(":::", var.s3_bucket_arn), 1)
  prefix    = trim(var.s3_prefix, "/")

  # Seed 002's module inputs, else the project's folders in the bucket.
  paths = {
    training_data   = trimsuffix(coalesce(var.input_data_s3_path, "s3://${local.bucket}/${local.prefix}/datasets/training"), "/")
    model_output    = trimsuffix(coalesce(var.model_output_s3_path, "s3://${local.bucket}/${local.prefix}/models"), "/")
    inference_input = trimsuffix(coalesce(var.inference_input_s3_path, "s3://${local.bucket}/${local.prefix}/inference-input"), "/")
    data_root       = trimsuffix(coalesce(var.inference_output_s3_path, "s3://${local.bucket}"), "/")
    reports         = "s3://${local.bucket}/${local.prefix}/processing-runs"
  }
  # Predictions land in <data root>/<project>/inference-output/date=D/ (mlplatform's layout).
  predictions = "${local.paths.data_root}/${local.prefix}/inference-output"
  # The inference pipeline's RetrainCheck step asks mlplatform's retrain policy after scoring and
  # starts this module's training pipeline when it fires: it reads the labels and keeps the
  # realized-quality cache under the data root. Without both pipelines it is removed.
  retrain      = var.retrain_on_evidence && var.enable_training_pipeline && var.enable_processing_pipeline
  retrain_step = "RetrainCheck"
  labels       = "${local.paths.data_root}/${local.prefix}/labels"
  monitoring   = "${local.paths.data_root}/${local.prefix}/monitoring"

  # The values of the definitions' parameters: what the schedules send, and what
  # `terraform output pipeline_parameters` gives for manual runs and `mlplatform sagemaker run-local`.
  parameters = {
    training = {
      LogicalDate       = "auto"
      MlflowTrackingUri = var.mlflow_tracking_server_arn
      TrainingImageUri  = var.training_image_uri
      TrainingDataS3Uri = local.paths.training_data
      ModelOutputS3Uri  = local.paths.model_output
    }
    processing = {
      LogicalDate           = "auto"
      MlflowTrackingUri     = var.mlflow_tracking_server_arn
      InferenceImageUri     = var.inference_image_uri
      InputS3Uri            = local.paths.inference_input
      DataRootS3Uri         = local.paths.data_root
      ReportsS3Uri          = local.paths.reports
      KafkaBootstrapServers = var.kafka_bootstrap_servers
      KafkaTopic            = var.kafka_topic
      KafkaSecretArn        = var.kafka_secret_arn
      KafkaSecurityProtocol = var.kafka_security_protocol
      KafkaSaslMechanism    = var.kafka_sasl_mechanism
      # The RetrainCheck step starts the training pipeline with what its schedule sends (above).
      TrainingPipelineName  = "${local.name}-training"
      TrainingImageUri      = var.training_image_uri
      TrainingDataS3Uri     = local.paths.training_data
      ModelOutputS3Uri      = local.paths.model_output
    }
  }
  # EventBridge cannot send an empty value: an empty one leaves the definition's default.
  schedule_parameters = { for k, p in local.parameters : k => { for name, value in p : name => value if value != "" } }

  pipelines = {
    training = {
      enabled     = var.enable_training_pipeline
      definition  = var.training_pipeline_definition
      image       = var.training_image_uri
      environment = var.training_environment_variables
      reads       = [local.paths.training_data, local.paths.model_output]
      writes      = [local.paths.model_output, "s3://${local.bucket}/${local.prefix}/checkpoints"]
      schedule    = var.training_schedule_expression
      scheduled   = var.enable_training_pipeline && var.enable_training_schedule
      active      = var.training_schedule_enabled
    }
    processing = {
      enabled     = var.enable_processing_pipeline
      definition  = var.processing_pipeline_definition
      image       = var.inference_image_uri
      environment = var.processing_environment_variables
      reads       = concat([local.paths.inference_input, local.predictions], local.retrain ? [local.labels, local.monitoring] : [])
      writes      = concat([local.predictions, local.paths.reports], local.retrain ? [local.monitoring] : [])
      schedule    = var.processing_schedule_expression
      scheduled   = var.enable_processing_pipeline && var.enable_processing_schedule
      active      = var.processing_schedule_enabled
    }
  }
  enabled   = { for k, p in local.pipelines : k => p if p.enabled }
  scheduled = { for k, p in local.pipelines : k => p if p.scheduled }

  # What each definition declares, and which of its parameters have no default (Terraform must set them).
  declared = { for k, p in local.enabled : k => [for x in try(jsondecode(p.definition).Parameters, []) : x.Name] }
  required = { for k, p in local.enabled : k => [for x in try(jsondecode(p.definition).Parameters, []) : x.Name if !can(x.DefaultValue)] }

  # 123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag -> arn:aws:ecr:us-east-1:123456789012:repository/repo
  ecr_repository_arns = {
    for k, p in local.enabled : k => format(
      "arn:%s:ecr:%s:%s:repository/%s",
      local.partition,
      regex("^[0-9]{12}\\.dkr\\.ecr\\.([a-z0-9-]+)\\.", p.image)[0],
      regex("^([0-9]{12})\\.", p.image)[0],
      regex("^[^/]+/([^:@]+)", p.image)[0],
    )
  }
  vpc_enabled = length(var.subnet_ids) > 0
  vpc_config  = { Subnets = var.subnet_ids, SecurityGroupIds = var.security_group_ids }
  # Merged into each step's Arguments by step type, only when the jobs run in the VPC.
  network_arguments = {
    Training   = [for _ in local.vpc_enabled ? [1] : [] : { VpcConfig = local.vpc_config }]
    Processing = [for _ in local.vpc_enabled ? [1] : [] : { NetworkConfig = { VpcConfig = local.vpc_config } }]
  }

  # The deployed definitions: every step runs as this module's role, gets the extra environment
  # (the definition's own variables win) and, with subnets, the VPC configuration. The retrain
  # step is kept only when it has a training pipeline to start (local.retrain).
  definitions = {
    for k, p in local.enabled : k => merge(jsondecode(p.definition), {
      Steps = [for s in jsondecode(p.definition).Steps : merge(s, {
        Arguments = merge(
          s.Arguments,
          {
            RoleArn     = aws_iam_role.execution[k].arn
            Environment = merge(p.environment, try(s.Arguments.Environment, {}))
          },
          local.network_arguments[s.Type]...
        )
      }) if local.retrain || s.Name != local.retrain_step]
    })
  }

  s3_arns = {
    for k, p in local.enabled : k => {
      reads  = [for u in p.reads : "arn:${local.partition}:s3:::${trimprefix(u, "s3://")}/*"]
      writes = [for u in p.writes : "arn:${local.partition}:s3:::${trimprefix(u, "s3://")}/*"]
      keys   = distinct([for u in concat(p.reads, p.writes) : trimprefix(trimprefix(u, "s3://${local.bucket}"), "/")])
    }
  }
  job_secret_arns = compact(concat(var.secret_arns, [var.kafka_secret_arn]))
}

# -- execution roles: one per pipeline; it runs the pipeline and its job, and may pass only itself

data "aws_iam_policy_document" "assume_sagemaker" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = local.enabled
  name               = "${local.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  for_each = local.enabled

  statement {
    sid       = "ReadInputs"
    actions   = ["s3:GetObject"]
    resources = local.s3_arns[each.key].reads
  }
  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = local.s3_arns[each.key].writes
  }
  statement {
    sid       = "ListProjectPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [var.s3_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for key in local.s3_arns[each.key].keys : [key, "${key}/*"]])
    }
  }
  statement {
    sid       = "MlflowArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.mlflow_artifact_bucket_arn}/*"]
  }
  statement {
    sid       = "ListMlflowArtifacts"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.mlflow_artifact_bucket_arn]
  }
  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [local.ecr_repository_arns[each.key]]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/*"]
  }
  statement {
    sid       = "JobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; limited to SageMaker's namespaces
    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*", "aws/sagemaker/*"]
    }
  }
  statement {
    sid = "RunOwnJobs"
    actions = [
      "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
      "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
      "sagemaker:AddTags",
    ]
    resources = [
      "arn:${local.partition}:sagemaker:${local.region}:${local.account}:training-job/*",
      "arn:${local.partition}:sagemaker:${local.region}:${local.account}:processing-job/*",
    ]
  }
  statement {
    sid       = "PassOnlyItself"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account}:role/${local.name}-${each.key}-execution"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
  statement {
    sid       = "MlflowTracking"
    actions   = ["sagemaker-mlflow:*"]
    resources = [var.mlflow_tracking_server_arn]
  }
  dynamic "statement" {
    for_each = length(compact([var.kms_key_arn, var.mlflow_kms_key_arn])) > 0 ? [1] : []
    content {
      sid       = "BucketKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = compact([var.kms_key_arn, var.mlflow_kms_key_arn])
    }
  }
  # The inference pipeline's RetrainCheck step starts the training pipeline, and nothing else.
  dynamic "statement" {
    for_each = each.key == "processing" && local.retrain ? [1] : []
    content {
      sid       = "StartTrainingPipeline"
      actions   = ["sagemaker:StartPipelineExecution"]
      resources = [aws_sagemaker_pipeline.this["training"].arn]
    }
  }
  dynamic "statement" {
    for_each = each.key == "processing" && length(local.job_secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadKafkaSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.job_secret_arns
    }
  }
  # Network interfaces in the VPC only. A condition on a key the request's resource does not carry
  # is false: an interface being created has no VPC yet, hence IfExists (the subnet and security
  # group it is created in carry ec2:Vpc and must match).
  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid     = "JobNetworkInterfaces"
      actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]
      resources = [
        "arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*",
        "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/*",
        "arn:${local.partition}:ec2:${local.region}:${local.account}:security-group/*",
      ]
      condition {
        test     = "ArnEqualsIfExists"
        variable = "ec2:Vpc"
        values   = ["arn:${local.partition}:ec2:${local.region}:${local.account}:vpc/${var.vpc_id}"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid       = "InterfacePermissionsInSubnets"
      actions   = ["ec2:CreateNetworkInterfacePermission"]
      resources = ["arn:${local.partition}:ec2:${local.region}:${local.account}:network-interface/*"]
      condition {
        test     = "ArnEquals"
        variable = "ec2:Subnet"
        values = [
          for id in var.subnet_ids : "arn:${local.partition}:ec2:${local.region}:${local.account}:subnet/${id}"
        ]
      }
    }
  }
  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid = "DescribeNetwork"
      actions = [
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        "ec2:DescribeDhcpOptions",
      ]
      resources = ["*"] # Describe* actions have no resource-level permissions
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.enabled
  name     = "${local.name}-${each.key}-execution"
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

# -- pipelines: the rendered definition, run as this role, with its parameters checked

resource "aws_sagemaker_pipeline" "this" {
  for_each              = local.enabled
  pipeline_name         = "${local.name}-${each.key}"
  pipeline_display_name = "${local.name}-${each.key}"
  pipeline_description  = "mlplatform ${each.key} pipeline (${var.environment})"
  role_arn              = aws_iam_role.execution[each.key].arn
  pipeline_definition   = jsonencode(local.definitions[each.key])
  tags                  = var.tags

  lifecycle {
    precondition {
      condition     = can(jsondecode(each.value.definition)["Steps"])
      error_message = "the ${each.key} pipeline definition must be mlplatform's rendered JSON (mlplatform sagemaker definition)."
    }
    precondition {
      condition     = alltrue([for s in jsondecode(each.value.definition).Steps : try(s.Arguments.Environment.MLFLOW_TRACKING_URI.Get, "") == "Parameters.MlflowTrackingUri"])
      error_message = "every step of the ${each.key} definition must read MLFLOW_TRACKING_URI from the MlflowTrackingUri parameter: re-render it (make docs)."
    }
    precondition {
      condition     = length(setsubtract(local.required[each.key], keys(local.schedule_parameters[each.key]))) == 0
      error_message = "the ${each.key} definition needs values for ${join(", ", setsubtract(local.required[each.key], keys(local.schedule_parameters[each.key])))}: set the matching variables."
    }
    precondition {
      condition     = length(setsubtract(keys(local.schedule_parameters[each.key]), local.declared[each.key])) == 0
      error_message = "the ${each.key} definition does not declare ${join(", ", setsubtract(keys(local.schedule_parameters[each.key]), local.declared[each.key]))}: re-render it (make docs)."
    }
    precondition {
      condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[^:@]+", each.value.image))
      error_message = "the ${each.key} pipeline needs its ECR image URI (training_image_uri / inference_image_uri)."
    }
    precondition {
      condition     = alltrue([for u in concat(each.value.reads, each.value.writes) : startswith(u, "s3://${local.bucket}/") || u == "s3://${local.bucket}"])
      error_message = "every S3 path of the ${each.key} pipeline must be inside ${var.s3_bucket_arn} (its role is scoped to that bucket)."
    }
    precondition {
      condition     = length(var.subnet_ids) == 0 || (var.vpc_id != "" && length(var.security_group_ids) > 0)
      error_message = "subnet_ids need vpc_id and security_group_ids (the roles' network permissions are scoped to the VPC)."
    }
    precondition {
      condition     = var.kafka_secret_arn == "" || contains(["SASL_PLAINTEXT", "SASL_SSL"], var.kafka_security_protocol)
      error_message = "kafka_secret_arn needs kafka_security_protocol SASL_SSL (or SASL_PLAINTEXT): credentials are not sent otherwise."
    }
  }
}

# -- schedules: EventBridge Scheduler (time zone, retries) or EventBridge rules (UTC)

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.schedule_mechanism == "scheduler" ? ["scheduler.amazonaws.com"] : ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = length(local.scheduled) > 0 ? 1 : 0
  name               = "${local.name}-pipeline-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartScheduledPipelines"
    actions   = ["sagemaker:StartPipelineExecution"]
    resources = length(local.scheduled) > 0 ? [for k, _ in local.scheduled : aws_sagemaker_pipeline.this[k].arn] : ["arn:${local.partition}:sagemaker:${local.region}:${local.account}:pipeline/${local.name}-none"]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = length(local.scheduled) > 0 ? 1 : 0
  name   = "${local.name}-pipeline-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "this" {
  for_each                     = var.schedule_mechanism == "scheduler" ? local.scheduled : {}
  name                         = "${local.name}-${each.key}"
  description                  = "mlplatform ${each.key} pipeline schedule"
  schedule_expression          = each.value.schedule
  schedule_expression_timezone = var.schedule_timezone
  state                        = each.value.active ? "ENABLED" : "DISABLED"
  kms_key_arn                  = var.kms_key_arn == "" ? null : var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sagemaker_pipeline.this[each.key].arn
    role_arn = aws_iam_role.scheduler[0].arn

    sagemaker_pipeline_parameters {
      dynamic "pipeline_parameter" {
        for_each = local.schedule_parameters[each.key]
        content {
          name  = pipeline_parameter.key
          value = pipeline_parameter.value
        }
      }
    }

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = 3600
    }
  }
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each            = var.schedule_mechanism == "rules" ? local.scheduled : {}
  name                = "${local.name}-${each.key}"
  description         = "mlplatform ${each.key} pipeline schedule (UTC)"
  schedule_expression = each.value.schedule
  state               = each.value.active ? "ENABLED" : "DISABLED"
  tags                = var.tags

  lifecycle {
    precondition {
      condition     = !startswith(each.value.schedule, "at(")
      error_message = "EventBridge rules take cron() or rate() only; at() needs schedule_mechanism = \"scheduler\"."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = var.schedule_mechanism == "rules" ? local.scheduled : {}
  rule     = aws_cloudwatch_event_rule.this[each.key].name
  arn      = aws_sagemaker_pipeline.this[each.key].arn
  role_arn = aws_iam_role.scheduler[0].arn

  sagemaker_pipeline_target {
    dynamic "pipeline_parameter_list" {
      for_each = local.schedule_parameters[each.key]
      content {
        name  = pipeline_parameter_list.key
        value = pipeline_parameter_list.value
      }
    }
  }

  retry_policy {
    maximum_retry_attempts       = var.schedule_retry_attempts
    maximum_event_age_in_seconds = 3600
  }
}
