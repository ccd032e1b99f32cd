variable "aws_region" {
  description = "AWS region (config/staging.toml aws.region)."
  type        = string
  default     = "us-east-1"
}

variable "project_name" {
  description = "Project identifier (config/staging.toml project)."
  type        = string
  default     = "iris"
}

variable "bucket_name_suffix" {
  description = "Suffix making the MLflow artifact bucket name unique (secret BUCKET_NAME_SUFFIX in CI)."
  type        = string
}

variable "s3_bucket_name" {
  description = "Existing bucket for data, models and predictions (config/staging.toml aws.bucket)."
  type        = string
}

variable "training_image_uri" {
  description = "Training image URI with the commit tag scripts/build_push_ecr.sh training printed (no default: nothing else exists)."
  type        = string
}

variable "inference_image_uri" {
  description = "Inference image URI with the commit tag scripts/build_push_ecr.sh inference printed (no default: nothing else exists)."
  type        = string
}

variable "enable_training_schedule" {
  description = "Weekly training schedule (config/staging.toml schedule.training_enabled)."
  type        = bool
  default     = true
}

variable "enable_inference_schedule" {
  description = "Daily inference schedule (config/staging.toml schedule.inference_enabled)."
  type        = bool
  default     = true
}

variable "training_schedule_expression" {
  description = "config/staging.toml schedule.training_schedule."
  type        = string
  default     = "cron(0 2 ? * SUN *)"
}

variable "inference_schedule_expression" {
  description = "config/staging.toml schedule.inference_schedule."
  type        = string
  default     = "cron(0 6 * * ? *)"
}

variable "schedule_timezone" {
  description = "config/staging.toml schedule.timezone."
  type        = string
  default     = "UTC"
}

variable "vpc_id" {
  description = "Existing VPC for the jobs; empty for none."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets for the jobs."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the jobs."
  type        = list(string)
  default     = []
}

variable "kafka_bootstrap_servers" {
  description = "Kafka brokers of the predictions (seed 001); empty = no Kafka sink."
  type        = string
  default     = ""
}

variable "kafka_output_topic" {
  description = "Kafka topic of the predictions (seed 001); empty = config/staging.toml's."
  type        = string
  default     = ""
}

variable "kafka_secret_arn" {
  description = "Secrets Manager secret with the Kafka SASL username/password (JSON); the inference job reads it."
  type        = string
  default     = ""
}

variable "kafka_security_protocol" {
  description = "Kafka security protocol: SASL_SSL with kafka_secret_arn (MSK SASL/SCRAM); empty = PLAINTEXT."
  type        = string
  default     = ""
}

variable "retrain_on_evidence" {
  description = "Run the retrain check after each staging inference (training.retrain in config/staging.toml decides; all rules off by default) and let it start the training pipeline. false: no step, no grant."
  type        = bool
  default     = true
}

variable "enable_scheduled_training_job" {
  description = "Also create seed 003's plain scheduled training job (besides the training pipeline)."
  type        = bool
  default     = false
}

variable "alert_emails" {
  description = "E-mail addresses told when a staging pipeline execution fails or is stopped."
  type        = list(string)
  default     = []
}

variable "slack_webhook_url" {
  description = "Slack incoming webhook told when a staging pipeline execution fails (TF_VAR_slack_webhook_url; never in tfvars)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "create_log_groups" {
  description = "Create the account-wide /aws/sagemaker/* job log groups (false for the second environment of one account)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the training and processing jobs' logs are kept."
  type        = number
  default     = 365
}
