output "lambda_function_arn" {
  description = "ARN of the Lambda function"
  value       = module.sigil.lambda_function_arn
}

output "lambda_alias_arn" {
  description = "ARN of the function's `live` alias, which every trigger invokes (VERSION=N make rollback moves it)"
  value       = module.sigil.lambda_alias_arn
}

output "sqs_queue_failed_events_arn" {
  description = "ARN of the queue of events Lambda gave up on (asynchronous events after retries, skipped Kinesis records)"
  value       = module.sigil.sqs_queue_failed_events_arn
}

output "lambda_function_name" {
  description = "Name of the Lambda function"
  value       = module.sigil.lambda_function_name
}

output "lambda_role_arn" {
  description = "ARN of the IAM role of the Lambda function"
  value       = module.sigil.lambda_role_arn
}

output "cloudwatch_log_group_name" {
  description = "Name of the CloudWatch log group of the Lambda function"
  value       = module.sigil.cloudwatch_log_group_name
}

output "kinesis_stream_arn" {
  description = "ARN of the Kinesis stream to send logs to"
  value       = module.sigil.kinesis_stream_arn
}

output "kinesis_stream_name" {
  description = "Name of the Kinesis stream to send logs to"
  value       = module.sigil.kinesis_stream_name
}

output "lambda_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the Kinesis stream to the Lambda function"
  value       = module.sigil.lambda_event_source_mapping_uuid
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic to subscribe to for alerts"
  value       = module.sigil.sns_topic_arn
}

output "sqs_queue_dlq_url" {
  description = "URL of the dead-letter queue undeliverable alerts are sent to"
  value       = module.sigil.sqs_queue_dlq_url
}

output "s3_bucket_quarantine_id" {
  description = "Name of the bucket unparseable records are quarantined to"
  value       = module.sigil.s3_bucket_quarantine_id
}

output "lambda_event_source_mapping_sqs_uuids" {
  description = "UUIDs of the event source mappings from the SQS source queues, by queue ARN"
  value       = module.sigil.lambda_event_source_mapping_sqs_uuids
}

output "sqs_queue_alerts_url" {
  description = "URL of the queue the `aws-sqs:triage` output delivers alerts to (its `queue_url`, passed to the function by the module)"
  value       = aws_sqs_queue.alerts.url
}

output "dynamodb_table_ledger_name" {
  description = "Name of the DynamoDB delivery ledger table (SIGIL_LEDGER_TABLE)"
  value       = module.sigil.dynamodb_table_ledger_name
}

output "cloudwatch_metric_alarm_arns" {
  description = "ARNs of the CloudWatch alarms, by alarm"
  value       = module.sigil.cloudwatch_metric_alarm_arns
}
