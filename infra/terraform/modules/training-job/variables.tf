variable "project_name" {
  description = "Name prefix of the job, roles and schedule."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod, ...)."
  type        = string
}

variable "training_image" {
  description = "Training image URI (ECR) with the commit tag scripts/build_push_ecr.sh printed."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/[^:@]+", var.training_image)) && !endswith(var.training_image, ":latest")
    error_message = "training_image must be an ECR image URI with the tag the build pushed (never latest)."
  }
}

variable "s3_bucket_arn" {
  description = "Bucket holding the channels, outputs and checkpoints."
  type        = string
}

variable "input_channels" {
  description = "Training data channels: name, s3_uri (inside the bucket), content_type."
  type = list(object({
    name         = string
    s3_uri       = string
    content_type = optional(string, "text/csv")
  }))
  default = []
  validation {
    condition     = alltrue([for c in var.input_channels : contains(["training", "validation"], c.name)])
    error_message = "mlplatform reads the channels training and validation."
  }
}

variable "output_s3_path" {
  description = "Where SageMaker writes model.tar.gz (s3://bucket/prefix)."
  type        = string
}

variable "instance_type" {
  description = "Training instance type."
  type        = string
  default     = "ml.m5.large"
}

variable "instance_count" {
  description = "Training instances."
  type        = number
  default     = 1
}

variable "volume_size_gb" {
  description = "EBS volume per instance."
  type        = number
  default     = 30
}

variable "max_runtime_seconds" {
  description = "Hard limit of one job (seed: 1 hour)."
  type        = number
  default     = 3600
}

variable "enable_spot_training" {
  description = "Managed spot training (up to 90% cheaper; needs checkpoint_s3_uri)."
  type        = bool
  default     = false
}

variable "max_wait_seconds" {
  description = "Spot: how long to wait for capacity plus run (>= max_runtime_seconds)."
  type        = number
  default     = 7200
}

variable "checkpoint_s3_uri" {
  description = "Checkpoint location for spot training."
  type        = string
  default     = ""
}

variable "hyperparameters" {
  description = "Hyperparameters as strings (SageMaker passes strings), e.g. n_estimators = \"100\"."
  type        = map(string)
  default     = {}
}

variable "environment_variables" {
  description = "Container environment (MLFLOW_TRACKING_URI, MODEL_NAME, ...). Never secrets: use secret_arns."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Environment variable name -> Secrets Manager ARN; the job gets the ARN and read access."
  type        = map(string)
  default     = {}
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker managed MLflow server the job logs to; empty for none."
  type        = string
  default     = ""
}

variable "mlflow_artifact_bucket_arn" {
  description = "Bucket of the tracking server's artifacts: the job writes the model there (the mlflow module's artifact_bucket_arn); empty for none."
  type        = string
  default     = ""
}

variable "schedule_expression" {
  description = "When the job runs (seed: cron(0 3 * * ? *))."
  type        = string
  default     = "cron(0 3 * * ? *)"
}

variable "schedule_enabled" {
  description = "Create the schedule switched on (seed: off until tested)."
  type        = bool
  default     = false
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedule."
  type        = string
  default     = "UTC"
}

variable "vpc_id" {
  description = "VPC of subnet_ids (the role may create network interfaces only there); empty for no VPC."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "VPC subnets of the job; empty for no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the job (with subnet_ids)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key for volumes, outputs and the schedule; empty for AWS-managed keys."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
