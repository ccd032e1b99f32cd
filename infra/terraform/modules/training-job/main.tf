# A SageMaker training job on a schedule (seed 003), started by EventBridge Scheduler's
# universal target (CreateTrainingJob); each run gets a unique job name from the execution id.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  name      = "${var.project_name}-${var.environment}"
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.name
  repository_arn = format(
    "arn:%s:ecr:%s:%s:repository/%s", local.partition,
    regex("^[0-9]{12}\\.dkr\\.ecr\\.([a-z0-9-]+)\\.", var.training_image)[0],
    regex("^([0-9]{12})\\.", var.training_image)[0],
    regex("^[^/]+/([^:@]+)", var.training_image)[0],
  )
  job_request = merge(
    {
      # Scheduler fills in <aws.scheduler.execution-id>: one job name per run.
      TrainingJobName = "${substr(local.name, 0, 24)}-<aws.scheduler.execution-id>"
      RoleArn         = aws_iam_role.job.arn
      AlgorithmSpecification = {
        TrainingImage     = var.training_image
        TrainingInputMode = "File"
      }
      HyperParameters = var.hyperparameters
      InputDataConfig = [for c in var.input_channels : {
        ChannelName = c.name
        ContentType = c.content_type
        DataSource = { S3DataSource = {
          S3DataType = "S3Prefix", S3Uri = c.s3_uri, S3DataDistributionType = "FullyReplicated"
        } }
      }]
      OutputDataConfig = merge({ S3OutputPath = var.output_s3_path }, var.kms_key_arn == "" ? {} : { KmsKeyId = var.kms_key_arn })
      ResourceConfig = merge(
        { InstanceType = var.instance_type, InstanceCount = var.instance_count, VolumeSizeInGB = var.volume_size_gb },
        var.kms_key_arn == "" ? {} : { VolumeKmsKeyId = var.kms_key_arn },
      )
      StoppingCondition = merge(
        { MaxRuntimeInSeconds = var.max_runtime_seconds },
        var.enable_spot_training ? { MaxWaitTimeInSeconds = var.max_wait_seconds } : {},
      )
      EnableManagedSpotTraining = var.enable_spot_training
      Environment               = merge(var.environment_variables, var.secret_arns)
      Tags                      = [for k, v in var.tags : { Key = k, Value = v }]
    },
    var.enable_spot_training ? { CheckpointConfig = { S3Uri = var.checkpoint_s3_uri } } : {},
    length(var.subnet_ids) > 0 ? { VpcConfig = { Subnets = var.subnet_ids, SecurityGroupIds = var.security_group_ids } } : {},
  )
}

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

resource "aws_iam_role" "job" {
  name               = "${local.name}-training-job"
  assume_role_policy = data.aws_iam_policy_document.assume_sagemaker.json
  tags               = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadChannels"
    actions   = ["s3:GetObject"]
    resources = [for c in var.input_channels : "arn:${local.partition}:s3:::${trimprefix(trimsuffix(c.s3_uri, "/"), "s3://")}/*"]
  }
  statement {
    sid     = "WriteModelAndCheckpoints"
    actions = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = compact([
      "arn:${local.partition}:s3:::${trimprefix(trimsuffix(var.output_s3_path, "/"), "s3://")}/*",
      var.checkpoint_s3_uri == "" ? "" : "arn:${local.partition}:s3:::${trimprefix(trimsuffix(var.checkpoint_s3_uri, "/"), "s3://")}/*",
    ])
  }
  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.s3_bucket_arn]
  }
  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [local.repository_arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/TrainingJobs*"]
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
  dynamic "statement" {
    for_each = var.mlflow_artifact_bucket_arn == "" ? [] : [1]
    content {
      sid       = "MlflowArtifacts"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources = ["${var.mlflow_artifact_bucket_arn}/*"]
    }
  }
  dynamic "statement" {
    for_each = var.mlflow_artifact_bucket_arn == "" ? [] : [1]
    content {
      sid       = "ListMlflowArtifacts"
      actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
      resources = [var.mlflow_artifact_bucket_arn]
    }
  }
  # Network interfaces in the VPC only. A condition on a key the request's resource does not carry
  # is false: an interface being created has no VPC yet, hence IfExists (the subnet and security
  # group it is created in carry ec2:Vpc and must match).
  dynamic "statement" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
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
    for_each = length(var.subnet_ids) > 0 ? [1] : []
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
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      sid = "DescribeNetwork"
      actions = [
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        "ec2:DescribeDhcpOptions",
      ]
      resources = ["*"] # Describe* actions have no resource-level permissions
    }
  }
  dynamic "statement" {
    for_each = length(var.secret_arns) > 0 ? [1] : []
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = values(var.secret_arns)
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
      sid       = "Key"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "${local.name}-training-job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.name}-training-job-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartTrainingJobs"
    actions   = ["sagemaker:CreateTrainingJob", "sagemaker:AddTags"]
    resources = ["arn:${local.partition}:sagemaker:${local.region}:${local.account}:training-job/${substr(local.name, 0, 24)}-*"]
  }
  statement {
    sid       = "PassJobRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.job.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${local.name}-training-job-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "training" {
  name                         = "${local.name}-training-job"
  description                  = "Scheduled SageMaker training job (${var.environment})"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"
  kms_key_arn                  = var.kms_key_arn == "" ? null : var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:aws:scheduler:::aws-sdk:sagemaker:createTrainingJob"
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode(local.job_request)

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }

  lifecycle {
    precondition {
      condition     = trimspace(lookup(var.environment_variables, "MLFLOW_TRACKING_URI", "")) != ""
      error_message = "environment_variables must set MLFLOW_TRACKING_URI (the tracking server ARN): without it the job logs to a store inside its container."
    }
    precondition {
      condition     = length(var.subnet_ids) == 0 || (var.vpc_id != "" && length(var.security_group_ids) > 0)
      error_message = "subnet_ids need vpc_id and security_group_ids (the role's network permissions are scoped to the VPC)."
    }
    precondition {
      condition     = !var.enable_spot_training || var.checkpoint_s3_uri != ""
      error_message = "spot training needs checkpoint_s3_uri."
    }
    precondition {
      condition     = !var.enable_spot_training || var.max_wait_seconds >= var.max_runtime_seconds
      error_message = "max_wait_seconds must be at least max_runtime_seconds."
    }
  }
}
