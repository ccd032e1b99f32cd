variable "project_name" {
  description = "Project identifier (prefix of the alert resources)."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod, ...)."
  type        = string
}

variable "pipeline_arns" {
  description = "SageMaker pipelines whose failed or stopped executions raise an alert."
  type        = list(string)
  validation {
    condition     = length(var.pipeline_arns) > 0
    error_message = "pipeline_arns: give at least one pipeline ARN."
  }
}

variable "alert_statuses" {
  description = "Pipeline execution statuses that raise an alert."
  type        = list(string)
  default     = ["Failed", "Stopped"]
  validation {
    condition     = alltrue([for s in var.alert_statuses : contains(["Executing", "Stopping", "Stopped", "Failed", "Succeeded"], s)])
    error_message = "alert_statuses: Executing, Stopping, Stopped, Failed or Succeeded."
  }
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (each confirms by mail)."
  type        = list(string)
  default     = []
}

variable "slack_webhook_url" {
  description = "Slack incoming webhook URL (https://hooks.slack.com/services/...) that gets the alert; empty for none."
  type        = string
  default     = ""
  sensitive   = true
  validation {
    condition     = var.slack_webhook_url == "" || can(regex("^https://hooks\\.slack\\.com/", var.slack_webhook_url))
    error_message = "slack_webhook_url must be empty or a https://hooks.slack.com/... incoming webhook."
  }
}

variable "create_log_groups" {
  description = "Create /aws/sagemaker/TrainingJobs and /ProcessingJobs (account-wide: only one environment per account may)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days the jobs' logs are kept."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "kms_key_arn" {
  description = "Customer KMS key for the log groups and the alert topic (its policy must allow logs and events); empty for none."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
