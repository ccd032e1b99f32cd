output "tracking_server_arn" {
  description = "Tracking server ARN: the MLFLOW_TRACKING_URI of mlplatform (with the sagemaker-mlflow plugin)."
  value       = aws_sagemaker_mlflow_tracking_server.this.arn
}

output "tracking_server_name" {
  description = "Tracking server name."
  value       = aws_sagemaker_mlflow_tracking_server.this.tracking_server_name
}

output "mlflow_tracking_uri" {
  description = "Tracking server URL (the MLflow UI)."
  value       = aws_sagemaker_mlflow_tracking_server.this.tracking_server_url
}

output "artifact_store_uri" {
  description = "Where the server keeps artifacts."
  value       = local.store_uri
}

output "artifact_bucket_arn" {
  description = "ARN of the artifact bucket."
  value       = local.bucket_arn
}

output "mlflow_role_name" {
  description = "Name of the role the server uses."
  value       = aws_iam_role.mlflow.name
}
