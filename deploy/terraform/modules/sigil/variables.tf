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
  description = "Number of days to keep the Lambda function's logs (0 keeps them forever); a year by default, as investigations of a detection often reach back months"
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_logs_retention_in_days)
    error_message = "The retention must be one of the values CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, ...)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: `Active` (sampled invocations are traced; the role may write traces) or `PassThrough` (traced only when the caller's request was)"
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "The tracing mode must be Active or PassThrough."
  }
}

variable "live_version" {
  description = "Version of the function the `live` alias points at, which every trigger invokes; null follows the version each apply publishes. Set it to an earlier version to roll back (README, \"Rolling back\")"
  type        = string
  default     = null

  validation {
    condition     = var.live_version == null || can(regex("^[1-9][0-9]*$", var.live_version))
    error_message = "The live version must be a published version number, such as \"3\" (not $LATEST)."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in (empty: outside any VPC, the default). The subnets need a route to the AWS APIs the function calls (NAT or VPC endpoints: Kinesis, SQS, S3, SNS, CloudWatch, X-Ray, and those of the outputs) and to the outputs' HTTPS endpoints; the role then gets the AWS managed AWSLambdaVPCAccessExecutionRole policy"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function when `vpc_subnet_ids` is set (at least one)"
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = (length(var.vpc_subnet_ids) == 0) == (length(var.vpc_security_group_ids) == 0)
    error_message = "Give vpc_subnet_ids and vpc_security_group_ids together (both empty: no VPC)."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration (null: none). With one whose policy enforces signatures, deploy a bundle signed by AWS Signer with a trusted profile, not the unsigned zip of `make bundle`"
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.code_signing_config_arn))
    error_message = "The code signing configuration must be an ARN (arn:aws:lambda:<region>:<account>:code-signing-config:csc-<id>)."
  }
}

################################################################################
# The module's KMS key: environment variables and log group
################################################################################

variable "create_kms_key" {
  description = "Whether to create a customer managed KMS key (rotated yearly) encrypting the function's environment variables and its log group; set it to false and give `kms_key_arn` to use your own key, or neither to use the AWS managed keys"
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of an existing customer managed key to use when `create_kms_key` is false: the role gets kms:Decrypt on it, and its key policy must let CloudWatch Logs (logs.<region>.amazonaws.com) use it for the log group `/aws/lambda/<name>`"
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "The key must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Number of days the created key waits, after the module is destroyed, before it is deleted (it can be restored meanwhile)"
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "The deletion window must be between 7 and 30 days."
  }
}

################################################################################
# Failed-events queue: events and records Lambda gave up on
################################################################################

variable "create_failed_events_queue" {
  description = "Whether to create the SQS queue (`<name>-failed-events`, SSE-SQS) that receives asynchronous events (SNS, CloudWatch Logs, EventBridge, S3) still failing after Lambda's retries (the function's dead-letter queue) and the positions of Kinesis records skipped after `event_source_maximum_retry_attempts` (the mapping's on-failure destination)"
  type        = bool
  default     = true
}

variable "failed_events_queue_arn" {
  description = "ARN of an existing SQS queue to use as the failed-events queue when `create_failed_events_queue` is false (null: failed events are dropped); the role gets sqs:SendMessage on it. It must use SSE-SQS or an AWS managed key"
  type        = string
  default     = null

  validation {
    condition     = var.failed_events_queue_arn == null || can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.failed_events_queue_arn))
    error_message = "The failed-events queue must be a standard SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)."
  }
}

variable "failed_events_message_retention_seconds" {
  description = "Number of seconds the created failed-events queue keeps a message"
  type        = number
  default     = 1209600

  validation {
    condition     = var.failed_events_message_retention_seconds >= 60 && var.failed_events_message_retention_seconds <= 1209600
    error_message = "The message retention must be between 60 and 1209600 seconds (14 days)."
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
# Additional sources: S3 log buckets and SQS queues
################################################################################

variable "s3_sources" {
  description = "S3 buckets whose ObjectCreated notifications (direct, through SNS or through SQS) carry logs to the function: the role gets s3:GetObject and s3:GetObjectVersion on `<bucket_arn>/<prefix>*` for each prefix (the whole bucket when `prefixes` is empty), and s3.amazonaws.com may invoke the function for that bucket (from `account_id`, the current account by default). The bucket notification itself is left to the caller. Bucket ARNs must be known at plan time (write `arn:aws:s3:::<bucket>`)"
  type = list(object({
    bucket_arn = string
    prefixes   = optional(list(string), [])
    account_id = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.s3_sources : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", s.bucket_arn))])
    error_message = "Each bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>), without a key or prefix."
  }

  validation {
    condition     = length(distinct([for s in var.s3_sources : s.bucket_arn])) == length(var.s3_sources)
    error_message = "Each bucket may appear only once in s3_sources (list all its prefixes in one entry)."
  }

  validation {
    condition     = alltrue([for s in var.s3_sources : s.account_id == null || can(regex("^[0-9]{12}$", s.account_id))])
    error_message = "The account_id of a bucket must be a 12-digit AWS account id."
  }
}

variable "sqs_source_queue_arns" {
  description = "ARNs of SQS queues the function reads (log records, or S3 notifications relayed through SQS); each gets an event source mapping that reports failed messages individually, and the role gets sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on these queues only. ARNs must be known at plan time"
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.sqs_source_queue_arns : can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,75}(\\.fifo)?$", arn))])
    error_message = "Each element must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)."
  }

  validation {
    condition     = length(distinct(var.sqs_source_queue_arns)) == length(var.sqs_source_queue_arns)
    error_message = "The SQS source queue ARNs must be unique."
  }
}

variable "sns_source_topic_arns" {
  description = "ARNs of SNS topics whose messages carry logs (records, or S3 notifications) to the function: each gets a `lambda` subscription of the `live` alias, and sns.amazonaws.com may invoke the alias for that topic. A topic of another account must allow the subscription in its policy. ARNs must be known at plan time"
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.sns_source_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", arn))])
    error_message = "Each element must be a standard SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>); Lambda cannot subscribe to FIFO topics."
  }

  validation {
    condition     = length(distinct(var.sns_source_topic_arns)) == length(var.sns_source_topic_arns)
    error_message = "The SNS source topic ARNs must be unique."
  }
}

variable "cloudwatch_logs_sources" {
  description = "CloudWatch Logs log groups, in the function's account and region, whose events the function reads: each gets a subscription filter (`filter_name`, default `sigil-<name>`; `filter_pattern`, default \"\" for every event) delivering to the `live` alias, and logs.amazonaws.com may invoke the alias for that group. A log group has at most two subscription filters"
  type = list(object({
    log_group_name = string
    filter_pattern = optional(string, "")
    filter_name    = optional(string)
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for s in var.cloudwatch_logs_sources : can(regex("^[A-Za-z0-9_./#-]{1,512}$", s.log_group_name))])
    error_message = "Each log_group_name must be a log group name (letters, digits, _ . / # -), not an ARN."
  }

  validation {
    condition     = length(distinct([for s in var.cloudwatch_logs_sources : s.log_group_name])) == length(var.cloudwatch_logs_sources)
    error_message = "Each log group may appear only once in cloudwatch_logs_sources."
  }

  # Every log line of the function would come back to it as an event, which logs more lines.
  validation {
    condition     = !contains([for s in var.cloudwatch_logs_sources : s.log_group_name], "/aws/lambda/${var.name}")
    error_message = "The function's own log group cannot be one of its sources (its log lines would invoke it without end)."
  }
}

variable "eventbridge_rules" {
  description = "EventBridge rules whose matching events the function reads, by a key that names the rule `<name>-<key>`: `event_pattern` (a JSON pattern, e.g. `jsonencode({ source = [\"aws.guardduty\"] })`), `event_bus_name` (default `default`), `description`. Each rule targets the `live` alias, and events.amazonaws.com may invoke the alias for that rule. Do not match the quarantine bucket's `Object Created` events: the function would read back what it quarantined"
  type = map(object({
    event_pattern  = string
    event_bus_name = optional(string, "default")
    description    = optional(string)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key, rule in var.eventbridge_rules : can(regex("^[A-Za-z0-9_.-]{1,40}$", key))])
    error_message = "Each key of eventbridge_rules must be 1-40 letters, digits, _ . or - (it becomes part of the rule name)."
  }

  validation {
    condition     = alltrue([for key, rule in var.eventbridge_rules : can(keys(jsondecode(rule.event_pattern)))])
    error_message = "Each event_pattern must be a JSON object (write it with jsonencode)."
  }
}

variable "sqs_event_source_batch_size" {
  description = "Largest number of SQS messages sent to the function in one batch (above 10 requires `sqs_event_source_maximum_batching_window_in_seconds` of at least 1)"
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_event_source_batch_size >= 1 && var.sqs_event_source_batch_size <= 10000
    error_message = "The SQS batch size must be between 1 and 10000."
  }
}

variable "sqs_event_source_maximum_batching_window_in_seconds" {
  description = "Longest time in seconds Lambda gathers SQS messages before invoking the function"
  type        = number
  default     = 0

  validation {
    condition     = var.sqs_event_source_maximum_batching_window_in_seconds >= 0 && var.sqs_event_source_maximum_batching_window_in_seconds <= 300
    error_message = "The batching window must be between 0 and 300 seconds."
  }
}

variable "source_kms_key_arns" {
  description = "ARNs of customer managed KMS keys encrypting the S3 source objects or SQS source queues; the role gets kms:Decrypt on these keys only (AWS managed keys and SSE-S3/SSE-SQS need nothing)"
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.source_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "Each element must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

################################################################################
# Dead-letter queue for undeliverable alerts
################################################################################

variable "create_dlq" {
  description = "Whether to create the SQS dead-letter queue undeliverable alerts are sent to (`SIGIL_DLQ_URL`)"
  type        = bool
  default     = true
}

variable "dlq_name" {
  description = "Name of the dead-letter queue created when `create_dlq` is true; defaults to `<name>-dlq`"
  type        = string
  default     = null
}

variable "dlq_message_retention_seconds" {
  description = "Number of seconds the dead-letter queue keeps an undeliverable alert"
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "The message retention must be between 60 and 1209600 seconds (14 days)."
  }
}

variable "dlq_arn" {
  description = "ARN of an existing SQS queue to dead-letter alerts to when `create_dlq` is false (null: no dead-letter queue). It must use SSE-SQS or an AWS managed key"
  type        = string
  default     = null

  validation {
    condition     = var.dlq_arn == null || can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.dlq_arn))
    error_message = "The dead-letter queue must be a standard SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)."
  }
}

################################################################################
# Quarantine for records no schema accepts
################################################################################

variable "create_quarantine_bucket" {
  description = "Whether to create the S3 bucket unparseable records are quarantined to (encrypted, versioned, public access blocked); set it to false and give `quarantine_bucket_arn` to use an existing bucket"
  type        = bool
  default     = true
}

variable "quarantine_bucket_name" {
  description = "Name of the quarantine bucket created when `create_quarantine_bucket` is true; defaults to a unique name starting with `<name>-quarantine-`"
  type        = string
  default     = null
}

variable "quarantine_bucket_arn" {
  description = "ARN of an existing bucket to quarantine records to when `create_quarantine_bucket` is false (null: records are only logged, their payloads lost)"
  type        = string
  default     = null

  validation {
    condition     = var.quarantine_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.quarantine_bucket_arn))
    error_message = "The quarantine bucket must be an S3 bucket ARN (arn:aws:s3:::<bucket>), without a key or prefix."
  }
}

variable "quarantine_prefix" {
  description = "Key prefix of the quarantined objects; the role may write under `<prefix>/` only"
  type        = string
  default     = "quarantine"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.quarantine_prefix))
    error_message = "The quarantine prefix must be one or more non-empty path segments, without leading or trailing slashes."
  }
}

variable "quarantine_kms_key_arn" {
  description = "ARN of a customer managed KMS key encrypting the quarantine bucket (the created bucket uses it as its default encryption; the role gets kms:GenerateDataKey on it); null for SSE-S3"
  type        = string
  default     = null

  validation {
    condition     = var.quarantine_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.quarantine_kms_key_arn))
    error_message = "The quarantine key must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

variable "quarantine_expiration_days" {
  description = "Number of days after which quarantined records are deleted from the created bucket (null, the default: kept until deleted by hand, as each waits for someone to replay it)"
  type        = number
  default     = null

  validation {
    condition     = var.quarantine_expiration_days == null || try(var.quarantine_expiration_days >= 1, false)
    error_message = "The expiration must be at least one day, or null."
  }
}

variable "quarantine_noncurrent_version_expiration_days" {
  description = "Number of days the created quarantine bucket keeps a record's overwritten or deleted versions"
  type        = number
  default     = 30

  validation {
    condition     = var.quarantine_noncurrent_version_expiration_days >= 1
    error_message = "The noncurrent version expiration must be at least one day."
  }
}

variable "quarantine_access_log_bucket" {
  description = "Name of an existing bucket receiving the created quarantine bucket's S3 server access logs (it must allow logging.s3.amazonaws.com to write); null creates one (`<name>-access-logs-...`, SSE-S3, versioned, public access blocked, logs expiring after `access_log_expiration_days`)"
  type        = string
  default     = null
}

variable "quarantine_access_log_prefix" {
  description = "Key prefix of the quarantine bucket's access logs in their bucket"
  type        = string
  default     = "quarantine-access/"
  nullable    = false
}

variable "access_log_expiration_days" {
  description = "Number of days the created access log bucket keeps access logs"
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_expiration_days >= 1
    error_message = "The access log expiration must be at least one day."
  }
}

variable "quarantine_bucket_force_destroy" {
  description = "Whether destroying the module deletes the created quarantine bucket (and access log bucket) even when it still holds quarantined records (access logs)"
  type        = bool
  default     = false
}

################################################################################
# Output secrets
################################################################################

variable "secrets_prefix" {
  description = "Path under which output secrets live (`SIGIL_SECRETS_PREFIX`): the role may read Secrets Manager secrets and SSM parameters under `<prefix>/` only; null grants no secret access"
  type        = string
  default     = "/sigil/outputs"

  validation {
    condition     = var.secrets_prefix == null || can(regex("^(/[A-Za-z0-9_.-]+)+$", var.secrets_prefix))
    error_message = "The secrets prefix must start with a slash and have no trailing slash, e.g. /sigil/outputs (letters, digits, _ . - only)."
  }
}

variable "secrets_kms_key_arn" {
  description = "ARN of the customer managed KMS key encrypting the output secrets (the role gets kms:Decrypt on it); null when they use the AWS managed keys"
  type        = string
  default     = null

  validation {
    condition     = var.secrets_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn))
    error_message = "The secrets key must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

################################################################################
# Alert outputs declared once: the runtime's settings (SIGIL_OUTPUTS_OVERRIDE) and the role's permissions
################################################################################

# `any`, not map(object(...)): an object type would silently drop a misspelt setting, which the runtime
# refuses. The validations below accept exactly what runtime/outputs/ accepts at cold start (settings
# per service, value kinds and enumerations), and are stricter where a value must also give an IAM resource.
variable "outputs" {
  description = "Alert outputs, by descriptor (`<service>:<name>`, the runtime's canonical service names: aws-sns, aws-sqs, aws-s3, aws-firehose, aws-lambda, aws-cloudwatch-log, slack, pagerduty, teams, jira, webhook), each with its settings as in outputs.json (docs/outputs.md). The map is passed to the function as `SIGIL_OUTPUTS_OVERRIDE` (merged over outputs.json at cold start, entry by entry, for the same spelling), and the role gets the calls of each AWS output on the resource its settings name, as with `alert_outputs`: aws-sns `topic_arn` (an ARN); aws-sqs `queue_url` (`https://sqs.<region>.amazonaws.com/<account>/<queue>` or `https://<region>.queue.amazonaws.com/...`); aws-s3 `bucket` and `prefix` (default `alerts/`); aws-firehose `stream` (a name, in the function's account and region); aws-lambda `function` (a name, in the function's account and region, or an ARN) and `qualifier`; aws-cloudwatch-log `log_group` (a name, in the function's account and region). Other outputs need no AWS permission but their secret, read under `secrets_prefix` (a `secret` setting must be a name relative to it). Values may be unknown until apply; descriptors must be known at plan"
  type        = any
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for descriptor, settings in var.outputs : can(regex("^(aws-sns|aws-sqs|aws-s3|aws-firehose|aws-lambda|aws-cloudwatch-log|slack|pagerduty|teams|jira|webhook):[^\\s]+$", descriptor))])
    error_message = "Each key of outputs must be a descriptor <service>:<name> whose service is one of aws-sns, aws-sqs, aws-s3, aws-firehose, aws-lambda, aws-cloudwatch-log, slack, pagerduty, teams, jira or webhook (the canonical names: write aws-sqs:triage, not sqs:triage), and whose name has no whitespace."
  }

  # The runtime sets aws-sns:alerts.topic_arn from SIGIL_ALERTS_TOPIC_ARN, after the overrides.
  validation {
    condition     = !contains([for descriptor, settings in var.outputs : descriptor], "aws-sns:alerts")
    error_message = "aws-sns:alerts is the module's own topic (SIGIL_ALERTS_TOPIC_ARN, always granted): do not declare it in outputs (set its format in outputs.json)."
  }

  # The settings each service accepts, required and optional (runtime/outputs/*.py: `required | optional`
  # of each output class); tests/test_terraform.py checks that both tables equal the runtime's.
  validation {
    condition = alltrue(flatten([
      for descriptor, settings in var.outputs : [
        for allowed in [lookup({
          "aws-sns"            = ["topic_arn", "format"]
          "aws-sqs"            = ["queue_url", "format"]
          "aws-s3"             = ["bucket", "prefix", "format"]
          "aws-firehose"       = ["stream", "format"]
          "aws-lambda"         = ["function", "qualifier", "invocation_type", "format"]
          "aws-cloudwatch-log" = ["log_group", "log_stream", "format"]
          "slack"              = ["secret"]
          "pagerduty"          = ["secret"]
          "teams"              = ["secret", "card"]
          "jira"               = ["project", "secret", "issue_type", "labels"]
          "webhook"            = ["secret", "format"]
        }, split(":", descriptor)[0], null)] :
        allowed == null || try(alltrue([for key in keys(settings) : contains(allowed, key)]), false)
      ]
    ]))
    error_message = "The settings of each output must be an object of the settings its service accepts, and no other: aws-sns: topic_arn, format; aws-sqs: queue_url, format; aws-s3: bucket, prefix, format; aws-firehose: stream, format; aws-lambda: function, qualifier, invocation_type, format; aws-cloudwatch-log: log_group, log_stream, format; slack and pagerduty: secret; teams: secret, card; jira: project, secret, issue_type, labels; webhook: secret, format."
  }

  validation {
    condition = alltrue(flatten([
      for descriptor, settings in var.outputs : [
        for required in [lookup({
          "aws-sns"            = ["topic_arn"]
          "aws-sqs"            = ["queue_url"]
          "aws-s3"             = ["bucket"]
          "aws-firehose"       = ["stream"]
          "aws-lambda"         = ["function"]
          "aws-cloudwatch-log" = ["log_group"]
          "slack"              = []
          "pagerduty"          = []
          "teams"              = []
          "jira"               = ["project"]
          "webhook"            = []
        }, split(":", descriptor)[0], [])] :
        try(alltrue([for key in required : contains(keys(settings), key)]), false)
      ]
    ]))
    error_message = "An output lacks a required setting: aws-sns needs topic_arn, aws-sqs queue_url, aws-s3 bucket, aws-firehose stream, aws-lambda function, aws-cloudwatch-log log_group, jira project."
  }

  # jsonencode keeps what it is given: a null or a number would reach the runtime as such.
  validation {
    condition = alltrue(flatten([
      for descriptor, settings in var.outputs : try([
        for key, value in settings :
        key == "labels" ? try(alltrue([for label in value : tostring(label) == label]) && !can(tostring(value)) && !can(keys(value)), false) : value != null && try(tostring(value) == value, false)
      ], [true])
    ]))
    error_message = "Each setting of outputs must be a string, except the labels of a jira output: a list of strings."
  }

  validation {
    condition     = alltrue([for descriptor, settings in var.outputs : !can(settings.format) || try(contains(["alert", "ocsf"], settings.format), false)])
    error_message = "The format setting of an output must be \"alert\" or \"ocsf\"."
  }

  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      !can(settings.topic_arn) || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", settings.topic_arn))
      if startswith(descriptor, "aws-sns:")
    ])
    error_message = "The topic_arn of an aws-sns output must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }

  # The same pattern as local.sqs_queue_url_pattern (iam.tf), which turns the URL into the queue's ARN.
  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      !can(settings.queue_url) || can(regex("^https://(?:sqs\\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)|([a-z]{2}(?:-[a-z]+)+-[0-9]+)\\.queue)\\.amazonaws\\.com(?:\\.cn)?/([0-9]{12})/([A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\\.fifo)$", settings.queue_url))
      if startswith(descriptor, "aws-sqs:")
    ])
    error_message = "The queue_url of an aws-sqs output must be an SQS queue URL, https://sqs.<region>.amazonaws.com/<account>/<queue> (or the legacy https://<region>.queue.amazonaws.com/<account>/<queue>), not an ARN."
  }

  # The prefix becomes part of an IAM resource: wildcards and policy variables would widen it.
  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      (!can(settings.bucket) || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", settings.bucket))) &&
      (!can(settings.prefix) || try(length(settings.prefix) <= 1024 && !can(regex("[*?$]", settings.prefix)), false))
      if startswith(descriptor, "aws-s3:")
    ])
    error_message = "An aws-s3 output needs a bucket name (not an ARN) and, optionally, a literal key prefix (\"\" for the whole bucket) without *, ? or $."
  }

  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      !can(settings.stream) || can(regex("^[A-Za-z0-9_.-]{1,64}$", settings.stream))
      if startswith(descriptor, "aws-firehose:")
    ])
    error_message = "The stream of an aws-firehose output must be a delivery stream name (the runtime passes it as DeliveryStreamName, which takes no ARN); the stream is in the function's account and region."
  }

  # The same pattern as local.lambda_function_pattern (iam.tf). A qualifier in the function and the
  # qualifier setting must agree (Lambda refuses the call otherwise).
  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      (!can(settings.function) || can(regex("^(?:arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):function:)?([A-Za-z0-9_-]{1,64})(?::(\\$LATEST|[A-Za-z0-9_-]{1,128}))?$", settings.function))) &&
      (!can(settings.qualifier) || can(regex("^(\\$LATEST|[A-Za-z0-9_-]{1,128})$", settings.qualifier))) &&
      try(coalesce(regex("^(?:arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):function:)?([A-Za-z0-9_-]{1,64})(?::(\\$LATEST|[A-Za-z0-9_-]{1,128}))?$", settings.function)[3], settings.qualifier) == settings.qualifier, true) &&
      (!can(settings.invocation_type) || try(contains(["Event", "RequestResponse"], settings.invocation_type), false))
      if startswith(descriptor, "aws-lambda:")
    ])
    error_message = "An aws-lambda output needs a function name (in the function's account and region), name:qualifier or function ARN, an optional qualifier (a version, an alias or $LATEST, the same as the function's if it has one), and an optional invocation_type \"Event\" or \"RequestResponse\"."
  }

  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      (!can(settings.log_group) || can(regex("^[A-Za-z0-9_./#-]{1,512}$", settings.log_group))) &&
      (!can(settings.log_stream) || can(regex("^[^:*]{1,512}$", settings.log_stream)))
      if startswith(descriptor, "aws-cloudwatch-log:")
    ])
    error_message = "An aws-cloudwatch-log output needs a log group name (not an ARN; the group is in the function's account and region) and, optionally, a log stream name without : or *."
  }

  # A secret name outside the prefix (absolute, or an ARN) would not be readable with the module's grants.
  validation {
    condition     = alltrue([for descriptor, settings in var.outputs : !can(settings.secret) || can(regex("^[A-Za-z0-9_+=.@-][A-Za-z0-9_+=.@/-]{0,511}$", settings.secret))])
    error_message = "The secret setting of an output must be a secret name relative to secrets_prefix (e.g. slack/secops), not an absolute name or an ARN."
  }

  validation {
    condition = alltrue([
      for descriptor, settings in var.outputs :
      (!can(settings.card) || try(contains(["adaptive", "messagecard"], settings.card), false)) &&
      (!can(settings.project) || try(trimspace(settings.project) != "", false)) &&
      (!can(settings.issue_type) || try(trimspace(settings.issue_type) != "", false))
    ])
    error_message = "The card of a teams output must be \"adaptive\" or \"messagecard\"; the project and issue_type of a jira output must not be empty."
  }
}

################################################################################
# Alert outputs: AWS resources outputs.json delivers alerts to
################################################################################

variable "alert_outputs" {
  description = "AWS resources the alert outputs of outputs.json deliver to (docs/outputs.md); the role gets the calls each runtime output makes, on these resources only, and nothing for an empty list. `sns_topic_arns` (aws-sns): sns:Publish. `sqs_queue_arns` (aws-sqs): sqs:SendMessage. `s3_buckets` (aws-s3): s3:PutObject on `<bucket_arn>/<prefix>*`, `prefix` being the output's (default `alerts/`, as the runtime's). `firehose_delivery_stream_arns` (aws-firehose): firehose:PutRecord. `lambda_function_arns` (aws-lambda): lambda:InvokeFunction (give `...:function:<name>:<qualifier>` for an output with a `qualifier`). `cloudwatch_log_group_arns` (aws-cloudwatch-log): logs:CreateLogStream and logs:PutLogEvents on the group's streams. `kms_key_arns`: customer managed keys of encrypted topics, queues or buckets: kms:GenerateDataKey, plus kms:Decrypt when topics or queues are listed. ARNs may be unknown until apply"
  type = object({
    sns_topic_arns = optional(list(string), [])
    sqs_queue_arns = optional(list(string), [])
    s3_buckets = optional(list(object({
      bucket_arn = string
      prefix     = optional(string, "alerts/")
    })), [])
    firehose_delivery_stream_arns = optional(list(string), [])
    lambda_function_arns          = optional(list(string), [])
    cloudwatch_log_group_arns     = optional(list(string), [])
    kms_key_arns                  = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for arn in var.alert_outputs.sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", arn))])
    error_message = "Each element of alert_outputs.sns_topic_arns must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }

  validation {
    condition     = alltrue([for arn in var.alert_outputs.sqs_queue_arns : can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:([A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\\.fifo)$", arn))])
    error_message = "Each element of alert_outputs.sqs_queue_arns must be an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>), not a queue URL."
  }

  validation {
    condition     = alltrue([for b in var.alert_outputs.s3_buckets : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b.bucket_arn))])
    error_message = "Each bucket_arn of alert_outputs.s3_buckets must be an S3 bucket ARN (arn:aws:s3:::<bucket>), without a key or prefix."
  }

  # The prefix becomes part of an IAM resource: wildcards and policy variables would widen it.
  validation {
    condition     = alltrue([for b in var.alert_outputs.s3_buckets : length(b.prefix) <= 1024 && !can(regex("[*?$]", b.prefix))])
    error_message = "Each prefix of alert_outputs.s3_buckets must be a literal key prefix (\"\" for the whole bucket) without *, ? or $."
  }

  validation {
    condition     = alltrue([for arn in var.alert_outputs.firehose_delivery_stream_arns : can(regex("^arn:aws[a-z-]*:firehose:[a-z0-9-]+:[0-9]{12}:deliverystream/[A-Za-z0-9_.-]{1,64}$", arn))])
    error_message = "Each element of alert_outputs.firehose_delivery_stream_arns must be a Firehose delivery stream ARN (arn:aws:firehose:<region>:<account>:deliverystream/<name>)."
  }

  validation {
    condition     = alltrue([for arn in var.alert_outputs.lambda_function_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:(\\$LATEST|[A-Za-z0-9_-]{1,128}))?$", arn))])
    error_message = "Each element of alert_outputs.lambda_function_arns must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>])."
  }

  validation {
    condition     = alltrue([for arn in var.alert_outputs.cloudwatch_log_group_arns : can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[A-Za-z0-9_./#-]{1,512}(:\\*)?$", arn))])
    error_message = "Each element of alert_outputs.cloudwatch_log_group_arns must be a CloudWatch Logs log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>)."
  }

  validation {
    condition     = alltrue([for arn in var.alert_outputs.kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "Each element of alert_outputs.kms_key_arns must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

################################################################################
# Delivery ledger: (alert id, output) pairs already settled, shared by all containers
################################################################################

variable "create_delivery_ledger" {
  description = "Whether to create the DynamoDB table of settled (alert id, output) pairs (`SIGIL_LEDGER_TABLE`), so that a retry landing on another container does not send an alert again; without it (and without `delivery_ledger_table_arn`) the runtime remembers pairs per container only"
  type        = bool
  default     = false
}

variable "delivery_ledger_table_name" {
  description = "Name of the delivery ledger table created when `create_delivery_ledger` is true; defaults to `<name>-delivery-ledger`"
  type        = string
  default     = null

  validation {
    condition     = var.delivery_ledger_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.delivery_ledger_table_name))
    error_message = "The table name must be 3-255 letters, digits, underscores, dots or hyphens."
  }
}

variable "delivery_ledger_table_arn" {
  description = "ARN of an existing delivery ledger table to use when `create_delivery_ledger` is false (null: no ledger). It must be in the function's account and region, with partition key `alert_id` (S), sort key `output` (S) and TTL on `expires_at`; the role gets dynamodb:GetItem and dynamodb:PutItem on it"
  type        = string
  default     = null

  validation {
    condition     = var.delivery_ledger_table_arn == null || can(regex("^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}$", var.delivery_ledger_table_arn))
    error_message = "The delivery ledger must be a DynamoDB table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>)."
  }
}

variable "delivery_ledger_kms_key_arn" {
  description = "ARN of the customer managed KMS key encrypting the delivery ledger table (the created table uses it; the role gets kms:Decrypt on it through DynamoDB only); null for the AWS managed key aws/dynamodb"
  type        = string
  default     = null

  validation {
    condition     = var.delivery_ledger_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.delivery_ledger_kms_key_arn))
    error_message = "The delivery ledger key must be a KMS key ARN (an IAM policy cannot grant use of a key through an alias)."
  }
}

variable "delivery_ledger_point_in_time_recovery_enabled" {
  description = "Whether the created delivery ledger table has point-in-time recovery"
  type        = bool
  default     = true
}

variable "delivery_ledger_deletion_protection_enabled" {
  description = "Whether the created delivery ledger table is protected from deletion (set it to false, and apply, before destroying the module)"
  type        = bool
  default     = true
}

################################################################################
# Metrics and alarms
################################################################################

variable "metrics_namespace" {
  description = "CloudWatch namespace of the function's own metrics (`SIGIL_METRICS_NAMESPACE`, always set; docs/architecture.md, \"Metrics\"), which the alarms on them read"
  type        = string
  default     = "Sigil"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9A-Za-z._/#: -]{1,255}$", var.metrics_namespace)) && trimspace(var.metrics_namespace) != "" && !startswith(var.metrics_namespace, ":") && !startswith(var.metrics_namespace, "AWS/")
    error_message = "The metrics namespace must be 1-255 letters, digits, or . - _ / # : and spaces, not start with a colon, and not start with AWS/ (reserved for AWS services)."
  }
}

variable "create_alarms" {
  description = "Whether to create the CloudWatch alarms of `alarms` (README, \"Alarms\"): Lambda errors, throttles and iterator age, failed items, dead-lettered alerts, quarantined records, rule errors, and messages waiting in the dead-letter queue and in the failed-events queue"
  type        = bool
  default     = false
}

variable "alarms" {
  description = "Settings of the alarms created when `create_alarms` is true. `sns_topic_arns`: the topics notified when an alarm fires, and when it clears again unless `ok_actions` is false (no topic: the alarms only change state). `name_prefix`: alarm names are `<name_prefix><alarm>` with `-` for `_` (default `<name>-`, e.g. `sigil-lambda-errors`). Each alarm (`lambda_errors`, `lambda_throttles`, `iterator_age` in milliseconds, `failed_items`, `dead_lettered`, `quarantined`, `rule_errors`, `dlq_messages`, `failed_events_messages`) fires when its statistic is above `threshold` (0 by default, 900000 = 15 minutes for `iterator_age`) in `datapoints_to_alarm` (default: all) of `evaluation_periods` (default 1) periods of `period` seconds (default 300); `enabled = false` leaves it out. Missing data is not breaching"
  type = object({
    sns_topic_arns = optional(list(string), [])
    ok_actions     = optional(bool, true)
    name_prefix    = optional(string)
    lambda_errors = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    lambda_throttles = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    iterator_age = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 900000)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    failed_items = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    dead_lettered = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    quarantined = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    rule_errors = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    dlq_messages = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
    failed_events_messages = optional(object({
      enabled             = optional(bool, true)
      threshold           = optional(number, 0)
      period              = optional(number, 300)
      evaluation_periods  = optional(number, 1)
      datapoints_to_alarm = optional(number)
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for arn in var.alarms.sns_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", arn))])
    error_message = "Each element of alarms.sns_topic_arns must be a standard SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>); CloudWatch alarms cannot notify FIFO topics."
  }

  validation {
    condition     = var.alarms.name_prefix == null || can(regex("^[^\\x00-\\x1f]{0,200}$", var.alarms.name_prefix))
    error_message = "The alarm name prefix must be at most 200 printable characters."
  }

  validation {
    condition = alltrue([
      for alarm in [
        var.alarms.lambda_errors, var.alarms.lambda_throttles, var.alarms.iterator_age, var.alarms.failed_items,
        var.alarms.dead_lettered, var.alarms.quarantined, var.alarms.rule_errors, var.alarms.dlq_messages,
        var.alarms.failed_events_messages,
      ] :
      alarm.threshold >= 0 && alarm.period >= 60 && alarm.period % 60 == 0 && alarm.evaluation_periods >= 1 &&
      alarm.period * alarm.evaluation_periods <= (alarm.period >= 3600 ? 604800 : 86400) &&
      (alarm.datapoints_to_alarm == null ? true : alarm.datapoints_to_alarm >= 1 && alarm.datapoints_to_alarm <= alarm.evaluation_periods)
    ])
    error_message = "Each alarm needs a threshold of at least 0, a period that is a multiple of 60 seconds (the metrics have a one-minute resolution), at least one evaluation period, periods spanning at most one day in all (seven days with periods of an hour or more), and datapoints_to_alarm between 1 and evaluation_periods."
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
