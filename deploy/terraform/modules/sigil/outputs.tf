################################################################################
# Lambda function
################################################################################

output "lambda_function_arn" {
  description = "ARN of the Lambda function"
  value       = aws_lambda_function.this.arn
}

output "lambda_function_name" {
  description = "Name of the Lambda function"
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_invoke_arn" {
  description = "ARN to invoke the Lambda function with (API Gateway, Step Functions)"
  value       = aws_lambda_function.this.invoke_arn
}

output "lambda_function_source_code_hash" {
  description = "Base64-encoded SHA256 hash of the deployed package"
  value       = aws_lambda_function.this.source_code_hash
}

output "lambda_function_version" {
  description = "Version published by the last apply (the `live` alias may point at an earlier one: `live_version`)"
  value       = aws_lambda_function.this.version
}

output "lambda_alias_arn" {
  description = "ARN of the `live` alias, which every trigger invokes: give it to notifications and subscriptions made outside the module (e.g. aws_s3_bucket_notification)"
  value       = aws_lambda_alias.live.arn
}

output "lambda_alias_function_version" {
  description = "Version the `live` alias points at"
  value       = aws_lambda_alias.live.function_version
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the function's environment variables and log group (the created one, else `kms_key_arn`; null for the AWS managed keys)"
  value       = local.kms_key_arn
}

output "lambda_role_arn" {
  description = "ARN of the IAM role of the Lambda function"
  value       = aws_iam_role.lambda.arn
}

output "lambda_role_name" {
  description = "Name of the IAM role of the Lambda function"
  value       = aws_iam_role.lambda.name
}

output "cloudwatch_log_group_name" {
  description = "Name of the CloudWatch log group of the Lambda function"
  value       = aws_cloudwatch_log_group.this.name
}

output "cloudwatch_log_group_arn" {
  description = "ARN of the CloudWatch log group of the Lambda function"
  value       = aws_cloudwatch_log_group.this.arn
}

################################################################################
# Kinesis input stream and event source mapping
################################################################################

output "kinesis_stream_arn" {
  description = "ARN of the Kinesis stream the function reads logs from"
  value       = aws_kinesis_stream.this.arn
}

output "kinesis_stream_name" {
  description = "Name of the Kinesis stream the function reads logs from"
  value       = aws_kinesis_stream.this.name
}

output "lambda_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the Kinesis stream to the Lambda function"
  value       = aws_lambda_event_source_mapping.this.uuid
}

################################################################################
# SNS alerts topic
################################################################################

output "sns_topic_arn" {
  description = "ARN of the SNS topic alerts are published to"
  value       = aws_sns_topic.this.arn
}

output "sns_topic_name" {
  description = "Name of the SNS topic alerts are published to"
  value       = aws_sns_topic.this.name
}

################################################################################
# Additional sources
################################################################################

output "lambda_event_source_mapping_sqs_uuids" {
  description = "UUIDs of the event source mappings from the SQS source queues to the Lambda function, by queue ARN"
  value       = { for arn, mapping in aws_lambda_event_source_mapping.sqs : arn => mapping.uuid }
}

output "lambda_permission_s3_statement_ids" {
  description = "Statement ids of the permissions letting the S3 source buckets' notifications invoke the Lambda function, by bucket ARN"
  value       = { for arn, permission in aws_lambda_permission.s3 : arn => permission.statement_id }
}

output "sns_topic_subscription_arns" {
  description = "ARNs of the subscriptions of the `live` alias to the SNS source topics, by topic ARN"
  value       = { for arn, subscription in aws_sns_topic_subscription.sources : arn => subscription.arn }
}

output "cloudwatch_log_subscription_filter_names" {
  description = "Names of the subscription filters delivering the CloudWatch Logs sources to the `live` alias, by log group name"
  value       = { for group, filter in aws_cloudwatch_log_subscription_filter.sources : group => filter.name }
}

output "cloudwatch_event_rule_arns" {
  description = "ARNs of the EventBridge rules targeting the `live` alias, by key of `eventbridge_rules`"
  value       = { for key, rule in aws_cloudwatch_event_rule.sources : key => rule.arn }
}

output "sqs_queue_failed_events_arn" {
  description = "ARN of the failed-events queue (the created one, else `failed_events_queue_arn`): asynchronous events Lambda gave up on, and the positions of skipped Kinesis records"
  value       = local.failed_events_queue_arn
}

################################################################################
# Dead-letter queue
################################################################################

output "sqs_queue_dlq_arn" {
  description = "ARN of the dead-letter queue undeliverable alerts are sent to (the created one, else `dlq_arn`)"
  value       = local.dlq_arn
}

output "sqs_queue_dlq_url" {
  description = "URL of the dead-letter queue undeliverable alerts are sent to (`SIGIL_DLQ_URL`)"
  value       = local.dlq_url
}

################################################################################
# Quarantine bucket
################################################################################

output "s3_bucket_quarantine_id" {
  description = "Name of the bucket unparseable records are quarantined to (the created one, else the one of `quarantine_bucket_arn`)"
  value       = local.quarantine_bucket_name
}

output "s3_bucket_quarantine_arn" {
  description = "ARN of the bucket unparseable records are quarantined to"
  value       = local.quarantine_bucket_arn
}

output "s3_bucket_quarantine_url" {
  description = "Where unparseable records are quarantined, as `s3://<bucket>/<prefix>` (`SIGIL_QUARANTINE_URL`)"
  value       = local.quarantine_url
}

################################################################################
# Delivery ledger
################################################################################

output "dynamodb_table_ledger_name" {
  description = "Name of the DynamoDB table of settled (alert id, output) pairs (`SIGIL_LEDGER_TABLE`): the created one, else the one of `delivery_ledger_table_arn`, else null"
  value       = local.delivery_ledger_table_name
}

output "dynamodb_table_ledger_arn" {
  description = "ARN of the DynamoDB table of settled (alert id, output) pairs: the created one, else `delivery_ledger_table_arn`"
  value       = local.delivery_ledger_table_arn
}

################################################################################
# Alarms
################################################################################

output "cloudwatch_metric_alarm_arns" {
  description = "ARNs of the CloudWatch alarms created when `create_alarms` is true, by alarm (`lambda_errors`, `lambda_throttles`, `iterator_age`, `failed_items`, `dead_lettered`, `quarantined`, `rule_errors`, `dlq_messages`, `failed_events_messages`); empty otherwise"
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn }
}

output "s3_bucket_access_logs_id" {
  description = "Name of the bucket receiving the quarantine bucket's access logs (the created one, else `quarantine_access_log_bucket`; null without a created quarantine bucket)"
  value       = var.create_quarantine_bucket ? local.access_log_bucket : null
}
