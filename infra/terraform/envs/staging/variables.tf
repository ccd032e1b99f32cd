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
  description = "Training image URI, from scripts/build_push_ecr.sh training."
  type        = string
}

variable "inference_image_uri" {
  description = "Inference image URI, from scripts/build_push_ecr.sh inference."
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

variable "kafka_secret_arns" {
  description = "Secrets Manager ARNs of the Kafka credentials the inference job reads."
  type        = list(string)
  default     = []
}

variable "enable_scheduled_training_job" {
  description = "Also create seed 003's plain scheduled training job (besides the training pipeline)."
  type        = bool
  default     = false
}
