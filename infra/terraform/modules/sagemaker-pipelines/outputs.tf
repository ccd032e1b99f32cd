output "training_pipeline_arn" {
  description = "Training pipeline ARN (null when disabled)."
  value       = try(aws_sagemaker_pipeline.this["training"].arn, null)
}

output "processing_pipeline_arn" {
  description = "Processing pipeline ARN (null when disabled)."
  value       = try(aws_sagemaker_pipeline.this["processing"].arn, null)
}

output "training_role_arn" {
  description = "Training execution role ARN."
  value       = try(aws_iam_role.execution["training"].arn, null)
}

output "processing_role_arn" {
  description = "Processing execution role ARN."
  value       = try(aws_iam_role.execution["processing"].arn, null)
}

output "training_schedule_rule_arn" {
  description = "ARN of the training schedule (EventBridge Scheduler schedule or rule)."
  value = try(
    var.schedule_mechanism == "scheduler" ? aws_scheduler_schedule.this["training"].arn : aws_cloudwatch_event_rule.this["training"].arn,
    null
  )
}

output "processing_schedule_rule_arn" {
  description = "ARN of the processing schedule (EventBridge Scheduler schedule or rule)."
  value = try(
    var.schedule_mechanism == "scheduler" ? aws_scheduler_schedule.this["processing"].arn : aws_cloudwatch_event_rule.this["processing"].arn,
    null
  )
}

output "pipeline_parameters" {
  description = "Parameter values each pipeline gets from its schedule, by pipeline: the values of a manual run (mlplatform sagemaker params / run-local --params-file)."
  value       = { for k, _ in local.enabled : k => local.schedule_parameters[k] }
}

output "module_configuration" {
  description = "Summary of what this module created."
  value = {
    pipelines          = keys(local.enabled)
    schedules          = { for k, p in local.scheduled : k => p.schedule }
    schedule_mechanism = var.schedule_mechanism
    timezone           = var.schedule_timezone
    vpc                = local.vpc_enabled
  }
}
