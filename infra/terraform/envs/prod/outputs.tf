output "mlflow_tracking_server_arn" {
  description = "Set MLFLOW_TRACKING_URI to this ARN (with the aws extra installed)."
  value       = module.mlflow.tracking_server_arn
}

output "mlflow_tracking_uri" {
  description = "MLflow UI URL."
  value       = module.mlflow.mlflow_tracking_uri
}

output "training_pipeline_arn" {
  description = "Training pipeline ARN."
  value       = module.sagemaker_pipelines.training_pipeline_arn
}

output "processing_pipeline_arn" {
  description = "Processing pipeline ARN."
  value       = module.sagemaker_pipelines.processing_pipeline_arn
}

output "schedules" {
  description = "Schedules created, by pipeline."
  value       = module.sagemaker_pipelines.module_configuration
}

output "pipeline_parameters" {
  description = "Parameters each pipeline gets from its schedule: for manual runs, mlplatform sagemaker params/run-local --params-file."
  value       = module.sagemaker_pipelines.pipeline_parameters
}

output "ecr_repository_urls" {
  description = "Where scripts/build_push_ecr.sh pushes the images."
  value       = module.ecr.repository_urls
}

output "alert_topic_arn" {
  description = "SNS topic of failed/stopped pipeline executions."
  value       = module.monitoring.alert_topic_arn
}
