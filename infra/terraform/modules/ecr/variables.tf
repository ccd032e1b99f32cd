variable "project_name" {
  description = "Project identifier: the first part of the repository names."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, prod, ...): the middle part of the repository names."
  type        = string
}

variable "repository_names" {
  description = "Images to hold, one repository each: <project>-<env>-<name>."
  type        = list(string)
  default     = ["training", "inference"]
}

variable "keep_images" {
  description = "How many images each repository keeps (older ones are expired); keep enough to roll back."
  type        = number
  default     = 30
  validation {
    condition     = var.keep_images >= 1
    error_message = "keep_images must be at least 1."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images are expired."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Let terraform destroy delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key encrypting the images; empty for the AWS-managed ECR key."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
