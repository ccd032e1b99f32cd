output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule that starts the job."
  value       = aws_scheduler_schedule.training.arn
}

output "job_role_arn" {
  description = "Execution role of the training jobs."
  value       = aws_iam_role.job.arn
}

output "scheduler_role_arn" {
  description = "Role the schedule uses to create jobs."
  value       = aws_iam_role.scheduler.arn
}

output "job_request" {
  description = "The CreateTrainingJob request the schedule sends (job name filled in per run)."
  value       = local.job_request
}
