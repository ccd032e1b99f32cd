# staging: managed MLflow, ECR repositories, the training and processing pipelines with their
# schedules, and their monitoring (job log groups, alerts on failed executions).
# From an empty account: `terraform apply -target=module.mlflow -target=module.ecr`, push the
# images (scripts/build_push_ecr.sh), then `terraform apply` with their URIs (README, AWS deployment).
# The pipeline JSON in definitions/ is rendered from config/staging.toml:
#   mlplatform --env staging sagemaker definition training -o infra/terraform/envs/staging/definitions/training.json
# (make docs regenerates both; a test fails when they are stale).

locals {
  environment = "staging"
  tags = {
    Project     = var.project_name
    Environment = local.environment
    ManagedBy   = "terraform"
  }
  bucket_arn = "arn:aws:s3:::${var.s3_bucket_name}"
}

module "mlflow" {
  source             = "../../modules/mlflow"
  project_name       = "mlflow"
  environment        = local.environment
  bucket_name_suffix = var.bucket_name_suffix
  tags               = local.tags
}

module "ecr" {
  source       = "../../modules/ecr"
  project_name = var.project_name
  environment  = local.environment
  tags         = local.tags
}

module "sagemaker_pipelines" {
  source       = "../../modules/sagemaker-pipelines"
  project_name = var.project_name
  environment  = local.environment

  enable_training_pipeline       = true
  enable_processing_pipeline     = true
  training_pipeline_definition   = file("${path.module}/definitions/training.json")
  processing_pipeline_definition = file("${path.module}/definitions/inference.json")
  retrain_on_evidence            = var.retrain_on_evidence
  training_image_uri             = var.training_image_uri
  inference_image_uri            = var.inference_image_uri

  s3_bucket_arn = local.bucket_arn
  s3_prefix     = var.project_name

  # Wiring: values the definitions read as pipeline parameters, set in the schedules.
  mlflow_tracking_server_arn = module.mlflow.tracking_server_arn
  mlflow_artifact_bucket_arn = module.mlflow.artifact_bucket_arn
  kafka_bootstrap_servers    = var.kafka_bootstrap_servers
  kafka_topic                = var.kafka_output_topic
  kafka_secret_arn           = var.kafka_secret_arn
  kafka_security_protocol    = var.kafka_security_protocol

  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  schedule_mechanism             = "scheduler"
  enable_training_schedule       = true
  enable_processing_schedule     = true
  training_schedule_enabled      = var.enable_training_schedule
  processing_schedule_enabled    = var.enable_inference_schedule
  training_schedule_expression   = var.training_schedule_expression
  processing_schedule_expression = var.inference_schedule_expression
  schedule_timezone              = var.schedule_timezone

  tags = local.tags
}

module "training_job" {
  count          = var.enable_scheduled_training_job ? 1 : 0
  source         = "../../modules/training-job"
  project_name   = var.project_name
  environment    = local.environment
  training_image = var.training_image_uri
  s3_bucket_arn  = local.bucket_arn
  input_channels = [{ name = "training", s3_uri = "s3://${var.s3_bucket_name}/${var.project_name}/datasets/training/" }]
  output_s3_path = "s3://${var.s3_bucket_name}/${var.project_name}/models/"
  environment_variables = {
    MLFLOW_TRACKING_URI = module.mlflow.tracking_server_arn
    MLPLATFORM_ENV      = local.environment
  }
  mlflow_tracking_server_arn = module.mlflow.tracking_server_arn
  mlflow_artifact_bucket_arn = module.mlflow.artifact_bucket_arn
  schedule_expression        = var.training_schedule_expression
  schedule_timezone          = var.schedule_timezone
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.subnet_ids
  security_group_ids         = var.security_group_ids
  tags                       = local.tags
}

module "monitoring" {
  source             = "../../modules/monitoring"
  project_name       = var.project_name
  environment        = local.environment
  pipeline_arns      = compact([module.sagemaker_pipelines.training_pipeline_arn, module.sagemaker_pipelines.processing_pipeline_arn])
  alert_emails       = var.alert_emails
  slack_webhook_url  = var.slack_webhook_url
  create_log_groups  = var.create_log_groups
  log_retention_days = var.log_retention_days
  tags               = local.tags
}
