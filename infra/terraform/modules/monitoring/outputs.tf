output "alert_topic_arn" {
  description = "SNS topic that gets failed/stopped pipeline executions: subscribe more endpoints to it."
  value       = aws_sns_topic.alerts.arn
}

output "alert_rule_arn" {
  description = "EventBridge rule matching failed/stopped executions."
  value       = aws_cloudwatch_event_rule.pipeline_failed.arn
}

output "log_group_names" {
  description = "Log groups of the jobs (where to look when a step fails)."
  value       = ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs"]
}
