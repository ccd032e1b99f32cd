variable "project_name" {
  description = "Name prefix of the tracking server, bucket and role."
  type        = string
  default     = "mlflow"
}

variable "environment" {
  description = "Environment name (staging, prod, ...)."
  type        = string
}

variable "bucket_name_suffix" {
  description = "Unique suffix of the artifact bucket name (<project>-<env>-mlflow-artifacts-<suffix>)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9-]{1,20}$", var.bucket_name_suffix))
    error_message = "bucket_name_suffix: lower-case letters, digits and dashes, at most 20 characters."
  }
}

variable "create_s3_bucket" {
  description = "Create the artifact bucket; false to use artifact_store_uri (an existing bucket)."
  type        = bool
  default     = true
}

variable "artifact_store_uri" {
  description = "s3:// URI of an existing artifact location (with create_s3_bucket = false)."
  type        = string
  default     = ""
  validation {
    condition     = var.artifact_store_uri == "" || can(regex("^s3://[a-z0-9.-]{3,63}(/.*)?$", var.artifact_store_uri))
    error_message = "artifact_store_uri must be empty or s3://bucket[/prefix]."
  }
}

variable "mlflow_version" {
  description = "MLflow version of the managed server; pin the client to it (docker build --build-arg MLFLOW_VERSION)."
  type        = string
  default     = "3.0"
}

variable "tracking_server_size" {
  description = "Small, Medium or Large."
  type        = string
  default     = "Small"
  validation {
    condition     = contains(["Small", "Medium", "Large"], var.tracking_server_size)
    error_message = "tracking_server_size must be Small, Medium or Large."
  }
}

variable "automatic_model_registration" {
  description = "Register models logged to the server in the SageMaker Model Registry too."
  type        = bool
  default     = true
}

variable "weekly_maintenance_window_start" {
  description = "Maintenance window start, Day:HH:MM in UTC (e.g. Sun:03:00)."
  type        = string
  default     = "Sun:03:00"
  validation {
    condition     = can(regex("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):[0-2][0-9]:[0-5][0-9]$", var.weekly_maintenance_window_start))
    error_message = "weekly_maintenance_window_start must look like Sun:03:00."
  }
}

variable "kms_key_id" {
  description = "KMS key ARN for the artifact bucket; empty for the account's aws/s3 key."
  type        = string
  default     = ""
  validation {
    # the role's policy names the key as a resource, and IAM takes an ARN there, not a key id
    condition     = var.kms_key_id == "" || can(regex("^arn:[^:]+:kms:", var.kms_key_id))
    error_message = "kms_key_id must be the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not its id or alias."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days old artifact versions are kept (the bucket is versioned)."
  type        = number
  default     = 90
}

variable "access_log_bucket" {
  description = "Bucket receiving S3 server access logs of the artifact bucket; empty for none."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
