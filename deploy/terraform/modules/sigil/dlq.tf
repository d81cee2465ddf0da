locals {
  dlq_name = coalesce(var.dlq_name, "${var.name}-dlq")
  dlq_arn  = var.create_dlq ? aws_sqs_queue.dlq[0].arn : var.dlq_arn
  # An existing queue is given by ARN (arn:<partition>:sqs:<region>:<account>:<name>): its URL follows from it.
  dlq_arn_parts = var.dlq_arn == null ? [] : split(":", var.dlq_arn)
  dlq_url = (
    var.create_dlq ? aws_sqs_queue.dlq[0].url :
    var.dlq_arn == null ? null :
    "https://sqs.${local.dlq_arn_parts[3]}.${data.aws_partition.current.dns_suffix}/${local.dlq_arn_parts[4]}/${local.dlq_arn_parts[5]}"
  )
}

################################################################################
# Dead-letter queue for alerts no output could deliver
################################################################################

resource "aws_sqs_queue" "dlq" {
  count = var.create_dlq ? 1 : 0

  name                      = local.dlq_name
  message_retention_seconds = var.dlq_message_retention_seconds

  # SSE-SQS: encrypted at rest without a KMS key the role would need permissions on.
  sqs_managed_sse_enabled = true

  tags = var.tags
}
