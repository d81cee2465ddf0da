locals {
  s3_sources = { for source in var.s3_sources : source.bucket_arn => source }
  # Objects the function may read: each listed prefix, or the whole bucket when none is listed.
  s3_source_object_arns = flatten([
    for source in var.s3_sources : (
      length(source.prefixes) == 0 ? ["${source.bucket_arn}/*"] : [for prefix in source.prefixes : "${source.bucket_arn}/${prefix}*"]
    )
  ])
  sqs_source_queue_arns = toset(var.sqs_source_queue_arns)
}

################################################################################
# S3 log buckets: bucket notifications may invoke the function
################################################################################

# The notification (aws_s3_bucket_notification, or an SNS topic / SQS queue in between) belongs to
# the caller, who owns the bucket; this permission lets a direct notification invoke the function.
resource "aws_lambda_permission" "s3" {
  for_each = local.s3_sources

  statement_id   = "AllowS3-${replace(split(":", each.key)[5], ".", "_")}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = each.key
  source_account = coalesce(each.value.account_id, local.account_id)
}

################################################################################
# SQS source queues
################################################################################

resource "aws_lambda_event_source_mapping" "sqs" {
  for_each = local.sqs_source_queue_arns

  event_source_arn                   = each.value
  function_name                      = aws_lambda_function.this.arn
  batch_size                         = var.sqs_event_source_batch_size
  maximum_batching_window_in_seconds = var.sqs_event_source_maximum_batching_window_in_seconds

  # Failed messages are reported individually by the handler and return to the queue; the others
  # are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  # Lambda validates the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.lambda]
}
