output "repository_urls" {
  description = "Repository URL by image name (training, inference): what the image URIs start with."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Repository ARN by image name."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}
