# SageMaker pipelines (training, processing) rendered by mlplatform, their schedules, and
# least-privilege IAM. Kafka is not infrastructure here: the processing job talks to it.

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

  pipelines = {
    training = {
      enabled    = var.enable_training_pipeline
      definition = var.training_pipeline_definition
      image      = var.training_image_uri
      job        = "training-job"
      reads      = ["datasets", "models"]
      writes     = ["models", "checkpoints"]
      schedule   = var.training_schedule_expression
      scheduled  = var.enable_training_pipeline && var.enable_training_schedule
      active     = var.training_schedule_enabled
      image_parameter = "TrainingImageUri"
    }
    processing = {
      enabled    = var.enable_processing_pipeline
      definition = var.processing_pipeline_definition
      image      = var.inference_image_uri
      job        = "processing-job"
      reads      = ["inference-input", "inference-output"]
      writes     = ["inference-output", "processing-runs"]
      schedule   = var.processing_schedule_expression
      scheduled  = var.enable_processing_pipeline && var.enable_processing_schedule
      active     = var.processing_schedule_enabled
      image_parameter = "InferenceImageUri"
    }
  }
  enabled   = { for k, p in local.pipelines : k => p if p.enabled }
  scheduled = { for k, p in local.pipelines : k => p if p.scheduled }

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
  vpc_enabled = var.vpc_id != ""
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
    sid     = "ReadInputs"
    actions = ["s3:GetObject"]
    resources = [for folder in each.value.reads : "${var.s3_bucket_arn}/${local.prefix}/${folder}/*"]
  }
  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for folder in each.value.writes : "${var.s3_bucket_arn}/${local.prefix}/${folder}/*"]
  }
  statement {
    sid       = "ListProjectPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.s3_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.prefix}/*", local.prefix]
    }
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
    sid     = "RunOwnJobs"
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
  dynamic "statement" {
    for_each = var.mlflow_tracking_server_arn == "" ? [] : [1]
    content {
      sid       = "MlflowTracking"
      actions   = ["sagemaker-mlflow:*"]
      resources = [var.mlflow_tracking_server_arn]
    }
  }
  dynamic "statement" {
    for_each = var.kms_key_arn == "" ? [] : [1]
    content {
      sid       = "BucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }
  dynamic "statement" {
    for_each = each.key == "processing" && length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadKafkaSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = var.secret_arns
    }
  }
  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid = "JobNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
      ]
      resources = ["*"] # ENIs do not exist before the job creates them
      condition {
        test     = "StringEquals"
        variable = "ec2:Vpc"
        values   = ["arn:${local.partition}:ec2:${local.region}:${local.account}:vpc/${var.vpc_id}"]
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

# -- pipelines: the rendered definition, with every step's RoleArn pointed at this role

resource "aws_sagemaker_pipeline" "this" {
  for_each              = local.enabled
  pipeline_name         = "${local.name}-${each.key}"
  pipeline_display_name = "${local.name}-${each.key}"
  pipeline_description  = "mlplatform ${each.key} pipeline (${var.environment})"
  role_arn              = aws_iam_role.execution[each.key].arn
  pipeline_definition = replace(
    each.value.definition,
    "/\"RoleArn\": \"[^\"]*\"/",
    "\"RoleArn\": \"${aws_iam_role.execution[each.key].arn}\""
  )
  tags = var.tags

  lifecycle {
    precondition {
      condition     = can(jsondecode(each.value.definition)["Steps"])
      error_message = "the ${each.key} pipeline definition must be mlplatform's rendered JSON (mlplatform sagemaker definition)."
    }
    precondition {
      condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[^:@]+", each.value.image))
      error_message = "the ${each.key} pipeline needs its ECR image URI (training_image_uri / inference_image_uri)."
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
      pipeline_parameter {
        name  = "LogicalDate"
        value = "auto"
      }
      pipeline_parameter {
        name  = each.value.image_parameter
        value = each.value.image
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
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = var.schedule_mechanism == "rules" ? local.scheduled : {}
  rule     = aws_cloudwatch_event_rule.this[each.key].name
  arn      = aws_sagemaker_pipeline.this[each.key].arn
  role_arn = aws_iam_role.scheduler[0].arn

  sagemaker_pipeline_target {
    pipeline_parameter_list {
      name  = "LogicalDate"
      value = "auto"
    }
    pipeline_parameter_list {
      name  = each.value.image_parameter
      value = each.value.image
    }
  }

  retry_policy {
    maximum_retry_attempts       = var.schedule_retry_attempts
    maximum_event_age_in_seconds = 3600
  }
}
