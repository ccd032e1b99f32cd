terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.73"
    }
  }
  # Partial backend: bucket, key and region come from `terraform init -backend-config=...`
  # (CI passes TF_BACKEND_BUCKET and the key sagemaker-pipelines/<env>/terraform.tfstate).
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = local.tags
  }
}
