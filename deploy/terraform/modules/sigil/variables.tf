################################################################################
# Lambda function
################################################################################

variable "name" {
  description = "Name of the Lambda function; also the default name of the Kinesis stream, the IAM role and (with an `-alerts` suffix) the SNS topic"
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,64}$", var.name))
    error_message = "The name must be 1-64 letters, digits, hyphens or underscores (a Lambda function and IAM role name)."
  }
}

variable "description" {
  description = "Description of the Lambda function"
  type        = string
  default     = "Sigil: Sigma detection rules compiled into Python"
}

variable "package_path" {
  description = "Path to the deployment package written by `make bundle` (build/sigil-lambda.zip)"
  type        = string
}

variable "architectures" {
  description = "Instruction set architecture of the Lambda function: [\"arm64\"] or [\"x86_64\"]"
  type        = list(string)
  default     = ["arm64"]

  validation {
    condition     = length(var.architectures) == 1 && alltrue([for a in var.architectures : contains(["arm64", "x86_64"], a)])
    error_message = "The architectures must be exactly one of \"arm64\" or \"x86_64\"."
  }
}

variable "memory_size" {
  description = "Amount of memory in MB the Lambda function can use at runtime"
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "The memory size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Amount of time in seconds the Lambda function has to process one batch"
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "The timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrent_executions" {
  description = "Amount of reserved concurrent executions for the Lambda function; null (the default) or -1 for no reservation, 0 to disable the function"
  type        = number
  default     = null
}

variable "cloudwatch_logs_retention_in_days" {
  description = "Number of days to keep the Lambda function's logs (0 keeps them forever)"
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_logs_retention_in_days)
    error_message = "The retention must be one of the values CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, ...)."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of the policy used as the permissions boundary of the Lambda function's IAM role"
  type        = string
  default     = null
}

################################################################################
# Kinesis input stream and event source mapping
################################################################################

variable "kinesis_stream_name" {
  description = "Name of the Kinesis stream the function reads logs from; defaults to `name`"
  type        = string
  default     = null
}

variable "kinesis_stream_mode" {
  description = "Capacity mode of the Kinesis stream: ON_DEMAND or PROVISIONED"
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.kinesis_stream_mode)
    error_message = "The stream mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "kinesis_shard_count" {
  description = "Number of shards of the Kinesis stream; only used when `kinesis_stream_mode` is PROVISIONED"
  type        = number
  default     = 1

  validation {
    condition     = var.kinesis_shard_count >= 1
    error_message = "The shard count must be at least 1."
  }
}

variable "kinesis_retention_period" {
  description = "Number of hours the records stay in the Kinesis stream"
  type        = number
  default     = 24

  validation {
    condition     = var.kinesis_retention_period >= 24 && var.kinesis_retention_period <= 8760
    error_message = "The retention period must be between 24 and 8760 hours."
  }
}

variable "kinesis_kms_key_id" {
  description = "KMS key encrypting the Kinesis stream: the AWS managed alias/aws/kinesis (default), the ARN of a customer managed key (the role gets kms:Decrypt on it), or null for no encryption"
  type        = string
  default     = "alias/aws/kinesis"

  validation {
    condition     = var.kinesis_kms_key_id == null || can(regex("^(alias/aws/kinesis|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+)$", var.kinesis_kms_key_id))
    error_message = "The key must be null, \"alias/aws/kinesis\" or a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

variable "event_source_starting_position" {
  description = "Position in the Kinesis stream where the function starts reading: LATEST or TRIM_HORIZON"
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.event_source_starting_position)
    error_message = "The starting position must be LATEST or TRIM_HORIZON."
  }
}

variable "event_source_batch_size" {
  description = "Largest number of Kinesis records sent to the function in one batch"
  type        = number
  default     = 100

  validation {
    condition     = var.event_source_batch_size >= 1 && var.event_source_batch_size <= 10000
    error_message = "The batch size must be between 1 and 10000."
  }
}

variable "event_source_maximum_retry_attempts" {
  description = "Number of times a failed record is retried before it is discarded (-1 retries until the record expires)"
  type        = number
  default     = 3

  validation {
    condition     = var.event_source_maximum_retry_attempts >= -1 && var.event_source_maximum_retry_attempts <= 10000
    error_message = "The maximum retry attempts must be between -1 and 10000."
  }
}

################################################################################
# SNS alerts topic
################################################################################

variable "sns_topic_name" {
  description = "Name of the SNS topic alerts are published to; defaults to `<name>-alerts`"
  type        = string
  default     = null
}

variable "sns_kms_master_key_id" {
  description = "KMS key encrypting the alerts topic: the AWS managed alias/aws/sns (default), the ARN of a customer managed key (the role gets kms:Decrypt and kms:GenerateDataKey on it), or null for no encryption"
  type        = string
  default     = "alias/aws/sns"

  validation {
    condition     = var.sns_kms_master_key_id == null || can(regex("^(alias/aws/sns|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+)$", var.sns_kms_master_key_id))
    error_message = "The key must be null, \"alias/aws/sns\" or a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags applied to every resource that supports them"
  type        = map(string)
  default     = {}
}
