# SageMaker managed MLflow tracking server with its artifact bucket and IAM role (seed 004).

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name        = "${var.project_name}-${var.environment}"
  bucket_name = "${local.name}-mlflow-artifacts-${var.bucket_name_suffix}"
  bucket      = var.create_s3_bucket ? aws_s3_bucket.artifacts[0].bucket : regex("^s3://([^/]+)", var.artifact_store_uri)[0]
  store_uri   = var.create_s3_bucket ? "s3://${local.bucket_name}" : var.artifact_store_uri
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}"
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice per account, not a module default
  #checkov:skip=CKV2_AWS_62:No consumer of artifact events; MLflow reads the bucket directly
  count         = var.create_s3_bucket ? 1 : 0
  bucket        = local.bucket_name
  force_destroy = false
  tags          = var.tags
}

resource "aws_s3_bucket_versioning" "artifacts" {
  count  = var.create_s3_bucket ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  count  = var.create_s3_bucket ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    apply_server_side_encryption_by_default {
      # SSE-KMS always: the account's aws/s3 key unless a customer key is given.
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_id == "" ? null : var.kms_key_id
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  count                   = var.create_s3_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.artifacts[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  count  = var.create_s3_bucket ? 1 : 0
  bucket = aws_s3_bucket.artifacts[0].id
  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "artifacts" {
  count         = var.create_s3_bucket && var.access_log_bucket != "" ? 1 : 0
  bucket        = aws_s3_bucket.artifacts[0].id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${local.bucket_name}/"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "mlflow" {
  name               = "${local.name}-mlflow"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "mlflow" {
  statement {
    sid       = "Artifacts"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetBucketLocation", "s3:ListBucket"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]
  }
  statement {
    sid       = "ModelRegistry"
    actions   = ["sagemaker:AddTags", "sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage",
                 "sagemaker:DescribeModelPackageGroup", "sagemaker:UpdateModelPackage"]
    resources = [
      "arn:${data.aws_partition.current.partition}:sagemaker:*:${data.aws_caller_identity.current.account_id}:model-package/*",
      "arn:${data.aws_partition.current.partition}:sagemaker:*:${data.aws_caller_identity.current.account_id}:model-package-group/*",
    ]
  }
  dynamic "statement" {
    for_each = var.kms_key_id == "" ? [] : [1]
    content {
      sid       = "ArtifactKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_id]
    }
  }
}

resource "aws_iam_role_policy" "mlflow" {
  name   = "MLflowBasicAccess"
  role   = aws_iam_role.mlflow.id
  policy = data.aws_iam_policy_document.mlflow.json
}

resource "aws_sagemaker_mlflow_tracking_server" "this" {
  tracking_server_name            = "${local.name}-mlflow"
  artifact_store_uri              = local.store_uri
  role_arn                        = aws_iam_role.mlflow.arn
  mlflow_version                  = var.mlflow_version
  tracking_server_size            = var.tracking_server_size
  automatic_model_registration    = var.automatic_model_registration
  weekly_maintenance_window_start = var.weekly_maintenance_window_start
  tags                            = var.tags
}
