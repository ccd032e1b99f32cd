variable "project_name" {
  description = "Name of the project/application (prefix of every resource name)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project_name))
    error_message = "project_name: lower-case letters, digits and dashes, 2-31 characters."
  }
}

variable "environment" {
  description = "Environment name (staging, prod, dev, ...)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, 2-16 characters."
  }
}

variable "s3_bucket_arn" {
  description = "ARN of the existing S3 bucket holding data, models and predictions."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.s3_bucket_arn))
    error_message = "s3_bucket_arn must look like arn:aws:s3:::bucket-name."
  }
}

variable "s3_prefix" {
  description = "Key prefix inside the bucket that the jobs may read and write (the project folder)."
  type        = string
  default     = "iris"
}

variable "enable_training_pipeline" {
  description = "Create the training pipeline."
  type        = bool
  default     = true
}

variable "enable_processing_pipeline" {
  description = "Create the processing (inference) pipeline."
  type        = bool
  default     = false
}

variable "training_pipeline_definition" {
  description = "Training pipeline JSON: `mlplatform --env <env> sagemaker definition training`."
  type        = string
  default     = ""
}

variable "processing_pipeline_definition" {
  description = "Processing pipeline JSON: `mlplatform --env <env> sagemaker definition inference`."
  type        = string
  default     = ""
}

variable "training_image_uri" {
  description = "Training image URI in ECR (required with the training pipeline)."
  type        = string
  default     = ""
}

variable "inference_image_uri" {
  description = "Inference image URI in ECR (required with the processing pipeline)."
  type        = string
  default     = ""
}

variable "vpc_id" {
  description = "ID of an existing VPC for the jobs; empty for no VPC."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets for the jobs (with vpc_id)."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the jobs (with vpc_id)."
  type        = list(string)
  default     = []
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker managed MLflow tracking server the jobs log to; empty to grant no MLflow access."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "KMS key encrypting the bucket, if any (the roles get encrypt/decrypt on it)."
  type        = string
  default     = ""
}

variable "secret_arns" {
  description = "Secrets Manager secrets the processing job may read (e.g. Kafka SASL credentials)."
  type        = list(string)
  default     = []
}

variable "schedule_mechanism" {
  description = "scheduler (EventBridge Scheduler: time zone, retries) or rules (EventBridge rules, UTC only)."
  type        = string
  default     = "scheduler"
  validation {
    condition     = contains(["scheduler", "rules"], var.schedule_mechanism)
    error_message = "schedule_mechanism must be scheduler or rules."
  }
}

variable "enable_training_schedule" {
  description = "Create the training schedule."
  type        = bool
  default     = false
}

variable "enable_processing_schedule" {
  description = "Create the processing schedule."
  type        = bool
  default     = false
}

variable "training_schedule_enabled" {
  description = "Whether the training schedule is switched on (created but paused when false)."
  type        = bool
  default     = true
}

variable "processing_schedule_enabled" {
  description = "Whether the processing schedule is switched on (created but paused when false)."
  type        = bool
  default     = true
}

variable "training_schedule_expression" {
  description = "AWS schedule expression of the training pipeline (config/<env>.toml schedule.training_schedule)."
  type        = string
  default     = "cron(0 2 ? * SUN *)"
  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.training_schedule_expression))
    error_message = "training_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "processing_schedule_expression" {
  description = "AWS schedule expression of the processing pipeline (schedule.inference_schedule)."
  type        = string
  default     = "cron(0 6 * * ? *)"
  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.processing_schedule_expression))
    error_message = "processing_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedules (EventBridge Scheduler only; rules are UTC)."
  type        = string
  default     = "UTC"
}

variable "schedule_retry_attempts" {
  description = "EventBridge Scheduler retries of a failed pipeline start."
  type        = number
  default     = 2
  validation {
    condition     = var.schedule_retry_attempts >= 0 && var.schedule_retry_attempts <= 185
    error_message = "schedule_retry_attempts must be 0-185."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
