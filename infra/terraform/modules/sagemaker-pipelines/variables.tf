variable "project_name" {
  description = "Name of the project/application (prefix of every resource name)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project_name))
    error_message = "project_name: lower-case letters, digits and dashes, 2-31 characters."
  }
}

variable "environment" {
  description = "Environment name (staging, prod, dev, ...)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, 2-16 characters."
  }
}

variable "s3_bucket_arn" {
  description = "ARN of the existing S3 bucket holding data, models and predictions."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.s3_bucket_arn))
    error_message = "s3_bucket_arn must look like arn:aws:s3:::bucket-name."
  }
}

variable "s3_prefix" {
  description = "Key prefix inside the bucket that the jobs may read and write (the project folder)."
  type        = string
  default     = "iris"
}

variable "enable_training_pipeline" {
  description = "Create the training pipeline."
  type        = bool
  default     = true
}

variable "enable_processing_pipeline" {
  description = "Create the processing (inference) pipeline."
  type        = bool
  default     = false
}

variable "retrain_on_evidence" {
  description = "Keep the inference pipeline's RetrainCheck step (after scoring it asks mlplatform's retrain policy, training.retrain, and starts the training pipeline when it fires) and grant its role sagemaker:StartPipelineExecution on the training pipeline. false: the step is removed and nothing is granted."
  type        = bool
  default     = true
}

variable "training_pipeline_definition" {
  description = "Training pipeline JSON: `mlplatform --env <env> sagemaker definition training`."
  type        = string
  default     = ""
}

variable "processing_pipeline_definition" {
  description = "Processing pipeline JSON: `mlplatform --env <env> sagemaker definition inference`."
  type        = string
  default     = ""
}

variable "training_image_uri" {
  description = "Training image URI in ECR, tagged as scripts/build_push_ecr.sh pushed it (required with the training pipeline). Sent as TrainingImageUri."
  type        = string
  default     = ""
  validation {
    condition     = !endswith(var.training_image_uri, ":latest")
    error_message = "training_image_uri: use the commit tag scripts/build_push_ecr.sh printed; it never pushes latest (and the repositories' tags are immutable)."
  }
}

variable "inference_image_uri" {
  description = "Inference image URI in ECR, tagged as scripts/build_push_ecr.sh pushed it (required with the processing pipeline). Sent as InferenceImageUri."
  type        = string
  default     = ""
  validation {
    condition     = !endswith(var.inference_image_uri, ":latest")
    error_message = "inference_image_uri: use the commit tag scripts/build_push_ecr.sh printed; it never pushes latest (and the repositories' tags are immutable)."
  }
}

variable "vpc_id" {
  description = "ID of an existing VPC for the jobs; empty for no VPC."
  type        = string
  default     = ""
}

variable "subnet_ids" {
  description = "Subnets for the jobs (with vpc_id): added to every step as its VpcConfig."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the jobs (with vpc_id)."
  type        = list(string)
  default     = []
}

variable "mlflow_tracking_server_arn" {
  description = "SageMaker managed MLflow tracking server the jobs log to (the mlflow module's tracking_server_arn); sent as the MlflowTrackingUri parameter."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:mlflow-tracking-server/[A-Za-z0-9-]+$", var.mlflow_tracking_server_arn))
    error_message = "mlflow_tracking_server_arn must be a tracking server ARN (module.mlflow.tracking_server_arn): without it the jobs would log to a store inside the container."
  }
}

variable "mlflow_artifact_bucket_arn" {
  description = "Bucket of the tracking server's artifacts (the mlflow module's artifact_bucket_arn): the jobs read and write models there."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]{3,63}$", var.mlflow_artifact_bucket_arn))
    error_message = "mlflow_artifact_bucket_arn must look like arn:aws:s3:::bucket-name."
  }
}

variable "mlflow_kms_key_arn" {
  description = "KMS key of the MLflow artifact bucket, if a customer key (the roles get encrypt/decrypt on it)."
  type        = string
  default     = ""
}

variable "input_data_s3_path" {
  description = "Training data prefix (seed 002); default s3://<bucket>/<s3_prefix>/datasets/training. Sent as TrainingDataS3Uri."
  type        = string
  default     = ""
  validation {
    condition     = var.input_data_s3_path == "" || can(regex("^s3://[a-z0-9.-]{3,63}(/.*)?$", var.input_data_s3_path))
    error_message = "input_data_s3_path must be empty or s3://bucket/prefix."
  }
}

variable "model_output_s3_path" {
  description = "Where training jobs write model.tar.gz (seed 002); default s3://<bucket>/<s3_prefix>/models. Sent as ModelOutputS3Uri."
  type        = string
  default     = ""
  validation {
    condition     = var.model_output_s3_path == "" || can(regex("^s3://[a-z0-9.-]{3,63}(/.*)?$", var.model_output_s3_path))
    error_message = "model_output_s3_path must be empty or s3://bucket/prefix."
  }
}

variable "inference_input_s3_path" {
  description = "Inference input prefix, date=YYYY-MM-DD/ partitions inside (seed 002); default s3://<bucket>/<s3_prefix>/inference-input. Sent as InputS3Uri."
  type        = string
  default     = ""
  validation {
    condition     = var.inference_input_s3_path == "" || can(regex("^s3://[a-z0-9.-]{3,63}(/.*)?$", var.inference_input_s3_path))
    error_message = "inference_input_s3_path must be empty or s3://bucket/prefix."
  }
}

variable "inference_output_s3_path" {
  description = "Predictions root (seed 002): they land in <it>/<s3_prefix>/inference-output/date=D/; default s3://<bucket>. Sent as DataRootS3Uri."
  type        = string
  default     = ""
  validation {
    condition     = var.inference_output_s3_path == "" || can(regex("^s3://[a-z0-9.-]{3,63}(/.*)?$", var.inference_output_s3_path))
    error_message = "inference_output_s3_path must be empty or s3://bucket/prefix."
  }
}

variable "training_environment_variables" {
  description = "Extra environment of the training step (seed 002). Never secrets; the wired names (MLFLOW_TRACKING_URI, ...) come from their own variables."
  type        = map(string)
  default     = {}
  validation {
    condition     = length(setintersection(keys(var.training_environment_variables), ["MLFLOW_TRACKING_URI", "MODEL_NAME", "EXPERIMENT_NAME", "MLPLATFORM_ENV"])) == 0
    error_message = "training_environment_variables cannot set MLFLOW_TRACKING_URI (use mlflow_tracking_server_arn), MODEL_NAME, EXPERIMENT_NAME or MLPLATFORM_ENV (config/<env>.toml, rendered into the definition)."
  }
}

variable "processing_environment_variables" {
  description = "Extra environment of the processing step (seed 002). Never secrets; the wired names (MLFLOW_TRACKING_URI, KAFKA_*, ...) come from their own variables."
  type        = map(string)
  default     = {}
  validation {
    condition = length(setintersection(keys(var.processing_environment_variables), [
      "MLFLOW_TRACKING_URI", "MLFLOW_MODEL_URI", "MODEL_NAME", "EXPERIMENT_NAME", "MLPLATFORM_ENV", "KAFKA_BOOTSTRAP_SERVERS",
      "KAFKA_TOPIC", "KAFKA_SECRET_ARN", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "MLPLATFORM_INFERENCE__DATA_ROOT",
    ])) == 0 && length([for k in keys(var.processing_environment_variables) : k if can(regex("PASSWORD|SECRET_KEY|TOKEN", k))]) == 0
    error_message = "processing_environment_variables cannot set the wired names (use mlflow_tracking_server_arn, kafka_*, inference_output_s3_path; MLFLOW_MODEL_URI/MODEL_NAME come from config/<env>.toml) nor secrets (use kafka_secret_arn)."
  }
}

variable "kafka_bootstrap_servers" {
  description = "Kafka brokers host:port[,host:port] (seed 001); empty = no Kafka sink. Sent as KafkaBootstrapServers."
  type        = string
  default     = ""
}

variable "kafka_topic" {
  description = "Topic of the predictions (seed 001 kafka_output_topic); empty = the definition's default (config/<env>.toml). Sent as KafkaTopic."
  type        = string
  default     = ""
}

variable "kafka_secret_arn" {
  description = "Secrets Manager secret with the SASL username/password as JSON (MSK format); the processing role may read it. Sent as KafkaSecretArn."
  type        = string
  default     = ""
  validation {
    condition     = var.kafka_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.kafka_secret_arn))
    error_message = "kafka_secret_arn must be empty or a Secrets Manager secret ARN."
  }
}

variable "kafka_security_protocol" {
  description = "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; empty = the definition's default. Sent as KafkaSecurityProtocol."
  type        = string
  default     = ""
  validation {
    condition     = contains(["", "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], var.kafka_security_protocol)
    error_message = "kafka_security_protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
  }
}

variable "kafka_sasl_mechanism" {
  description = "SASL mechanism (SCRAM-SHA-512 when empty and a secret is given, as MSK uses). Sent as KafkaSaslMechanism."
  type        = string
  default     = ""
}

variable "kms_key_arn" {
  description = "KMS key encrypting the bucket, if any (the roles get encrypt/decrypt on it)."
  type        = string
  default     = ""
}

variable "secret_arns" {
  description = "Other Secrets Manager secrets the processing job may read (kafka_secret_arn is added to these)."
  type        = list(string)
  default     = []
}

variable "schedule_mechanism" {
  description = "scheduler (EventBridge Scheduler: time zone, retries) or rules (EventBridge rules, UTC only)."
  type        = string
  default     = "scheduler"
  validation {
    condition     = contains(["scheduler", "rules"], var.schedule_mechanism)
    error_message = "schedule_mechanism must be scheduler or rules."
  }
}

variable "enable_training_schedule" {
  description = "Create the training schedule."
  type        = bool
  default     = false
}

variable "enable_processing_schedule" {
  description = "Create the processing schedule."
  type        = bool
  default     = false
}

variable "training_schedule_enabled" {
  description = "Whether the training schedule is switched on (created but paused when false)."
  type        = bool
  default     = true
}

variable "processing_schedule_enabled" {
  description = "Whether the processing schedule is switched on (created but paused when false)."
  type        = bool
  default     = true
}

variable "training_schedule_expression" {
  description = "AWS schedule expression of the training pipeline (config/<env>.toml schedule.training_schedule)."
  type        = string
  default     = "cron(0 2 ? * SUN *)"
  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.training_schedule_expression))
    error_message = "training_schedule_expression must be cron(...), rate(...) or at(...) (at() with the scheduler only)."
  }
}

variable "processing_schedule_expression" {
  description = "AWS schedule expression of the processing pipeline (schedule.inference_schedule)."
  type        = string
  default     = "cron(0 6 * * ? *)"
  validation {
    condition     = can(regex("^(cron|rate|at)\\(.+\\)$", var.processing_schedule_expression))
    error_message = "processing_schedule_expression must be cron(...), rate(...) or at(...)."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedules (EventBridge Scheduler only; rules are UTC)."
  type        = string
  default     = "UTC"
}

variable "schedule_retry_attempts" {
  description = "EventBridge Scheduler retries of a failed pipeline start."
  type        = number
  default     = 2
  validation {
    condition     = var.schedule_retry_attempts >= 0 && var.schedule_retry_attempts <= 185
    error_message = "schedule_retry_attempts must be 0-185."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
