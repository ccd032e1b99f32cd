# Operations for the pipelines: CloudWatch log groups (with retention) for SageMaker training and
# processing jobs, and an alert when a pipeline execution fails or is stopped: an EventBridge rule
# to an SNS topic (e-mail subscriptions) and, optionally, straight to a Slack incoming webhook.

data "aws_caller_identity" "current" {}

locals {
  name = "${var.project_name}-${var.environment}"
  # SageMaker writes every job's logs to these account-wide groups: one environment per account creates them.
  log_groups = var.create_log_groups ? toset(["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs"]) : toset([])
  slack      = var.slack_webhook_url != ""
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Model Building Pipeline Execution Status Change"]
    detail = {
      currentPipelineExecutionStatus = var.alert_statuses
      pipelineArn                    = var.pipeline_arns
    }
  })
}

resource "aws_cloudwatch_log_group" "jobs" {
  for_each          = local.log_groups
  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn == "" ? null : var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic" "alerts" {
  #checkov:skip=CKV_AWS_26:EventBridge cannot publish to a topic encrypted with the AWS-managed SNS key; kms_key_arn (a CMK allowing events.amazonaws.com) encrypts it
  name              = "${local.name}-pipeline-alerts"
  kms_master_key_id = var.kms_key_arn == "" ? null : var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.pipeline_failed.arn]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alert_emails)
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_event_rule" "pipeline_failed" {
  name          = "${local.name}-pipeline-failed"
  description   = "A ${var.environment} SageMaker pipeline execution failed or was stopped"
  event_pattern = local.event_pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "sns" {
  rule = aws_cloudwatch_event_rule.pipeline_failed.name
  arn  = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      pipeline  = "$.detail.pipelineArn"
      execution = "$.detail.pipelineExecutionArn"
      status    = "$.detail.currentPipelineExecutionStatus"
    }
    input_template = "\"SageMaker pipeline <pipeline>: execution <execution> is <status>. Steps: aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn <execution>\""
  }
}

# -- Slack: an incoming webhook expects {"text": ...}, which SNS cannot send; an API destination can.

resource "aws_cloudwatch_event_connection" "slack" {
  count              = local.slack ? 1 : 0
  name               = "${local.name}-slack"
  description        = "Slack incoming webhook (the URL is the secret; the header is required by EventBridge)"
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = "X-Mlplatform-Alert"
      value = "pipeline-failed"
    }
  }
}

resource "aws_cloudwatch_event_api_destination" "slack" {
  count                            = local.slack ? 1 : 0
  name                             = "${local.name}-slack"
  invocation_endpoint              = var.slack_webhook_url
  http_method                      = "POST"
  invocation_rate_limit_per_second = 1
  connection_arn                   = aws_cloudwatch_event_connection.slack[0].arn
}

data "aws_iam_policy_document" "assume_events" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "slack" {
  count              = local.slack ? 1 : 0
  name               = "${local.name}-pipeline-alerts-slack"
  assume_role_policy = data.aws_iam_policy_document.assume_events.json
  tags               = var.tags
}

data "aws_iam_policy_document" "slack" {
  count = local.slack ? 1 : 0
  statement {
    sid       = "PostToSlack"
    actions   = ["events:InvokeApiDestination"]
    resources = [aws_cloudwatch_event_api_destination.slack[0].arn]
  }
}

resource "aws_iam_role_policy" "slack" {
  count  = local.slack ? 1 : 0
  name   = "${local.name}-pipeline-alerts-slack"
  role   = aws_iam_role.slack[0].id
  policy = data.aws_iam_policy_document.slack[0].json
}

resource "aws_cloudwatch_event_target" "slack" {
  count    = local.slack ? 1 : 0
  rule     = aws_cloudwatch_event_rule.pipeline_failed.name
  arn      = aws_cloudwatch_event_api_destination.slack[0].arn
  role_arn = aws_iam_role.slack[0].arn

  input_transformer {
    input_paths = {
      pipeline  = "$.detail.pipelineArn"
      execution = "$.detail.pipelineExecutionArn"
      status    = "$.detail.currentPipelineExecutionStatus"
    }
    input_template = "{\"text\": \":rotating_light: SageMaker pipeline <pipeline> is <status>: <execution>\"}"
  }
}
