locals {
  failed_events_enabled   = var.create_failed_events_queue || var.failed_events_queue_arn != null
  failed_events_queue_arn = var.create_failed_events_queue ? aws_sqs_queue.failed_events[0].arn : var.failed_events_queue_arn
  # The queue's name, known at plan (its alarm is decided then): the created one's, else the given ARN's last part.
  failed_events_arn_parts  = var.failed_events_queue_arn == null ? [] : split(":", var.failed_events_queue_arn)
  failed_events_queue_name = var.create_failed_events_queue ? "${var.name}-failed-events" : try(local.failed_events_arn_parts[5], null)
}

################################################################################
# Failed-events queue: invocations Lambda gave up on
################################################################################

# Not the alerts' dead-letter queue (dlq.tf): that one holds alerts `sigil redrive` sends again, this one
# holds what never got through the function: asynchronous events (SNS, CloudWatch Logs, EventBridge, S3)
# that still failed after Lambda's two retries, and the position of Kinesis records skipped after
# event_source_maximum_retry_attempts. Read them, fix the cause, and replay the events or records.
resource "aws_sqs_queue" "failed_events" {
  count = var.create_failed_events_queue ? 1 : 0

  name                      = local.failed_events_queue_name
  message_retention_seconds = var.failed_events_message_retention_seconds

  # SSE-SQS: Lambda sends with the role's permissions, which then need no KMS key.
  sqs_managed_sse_enabled = true

  tags = var.tags
}
