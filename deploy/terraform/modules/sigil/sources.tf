locals {
  s3_sources = { for source in var.s3_sources : source.bucket_arn => source }
  # Objects the function may read: each listed prefix, or the whole bucket when none is listed.
  s3_source_object_arns = flatten([
    for source in var.s3_sources : (
      length(source.prefixes) == 0 ? ["${source.bucket_arn}/*"] : [for prefix in source.prefixes : "${source.bucket_arn}/${prefix}*"]
    )
  ])
  sqs_source_queue_arns   = toset(var.sqs_source_queue_arns)
  sns_source_topic_arns   = toset(var.sns_source_topic_arns)
  cloudwatch_logs_sources = { for source in var.cloudwatch_logs_sources : source.log_group_name => source }
}

################################################################################
# S3 log buckets: bucket notifications may invoke the function
################################################################################

# The notification (aws_s3_bucket_notification, or an SNS topic / SQS queue in between) belongs to
# the caller, who owns the bucket; this permission lets a direct notification invoke the function's
# `live` alias (the notification names lambda_alias_arn).
resource "aws_lambda_permission" "s3" {
  for_each = local.s3_sources

  statement_id   = "AllowS3-${replace(split(":", each.key)[5], ".", "_")}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  qualifier      = aws_lambda_alias.live.name
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
  function_name                      = aws_lambda_alias.live.arn
  batch_size                         = var.sqs_event_source_batch_size
  maximum_batching_window_in_seconds = var.sqs_event_source_maximum_batching_window_in_seconds

  # Failed messages are reported individually by the handler and return to the queue; the others
  # are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  # Lambda validates the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.lambda]
}

################################################################################
# SNS topics: runtime/sources/sns.py reads each message (a record, or an S3 notification)
################################################################################

resource "aws_sns_topic_subscription" "sources" {
  for_each = local.sns_source_topic_arns

  topic_arn = each.value
  protocol  = "lambda"
  endpoint  = aws_lambda_alias.live.arn

  # SNS checks that it may invoke the alias when the subscription is confirmed.
  depends_on = [aws_lambda_permission.sns]
}

resource "aws_lambda_permission" "sns" {
  for_each = local.sns_source_topic_arns

  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "sns.amazonaws.com"
  source_arn    = each.value
}

################################################################################
# CloudWatch Logs subscription filters: runtime/sources/cloudwatch.py reads each log event
################################################################################

resource "aws_cloudwatch_log_subscription_filter" "sources" {
  for_each = local.cloudwatch_logs_sources

  name            = coalesce(each.value.filter_name, "sigil-${var.name}")
  log_group_name  = each.key
  filter_pattern  = each.value.filter_pattern
  destination_arn = aws_lambda_alias.live.arn

  # CloudWatch Logs checks that it may invoke the alias when the filter is created.
  depends_on = [aws_lambda_permission.cloudwatch_logs]
}

resource "aws_lambda_permission" "cloudwatch_logs" {
  for_each = local.cloudwatch_logs_sources

  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  qualifier      = aws_lambda_alias.live.name
  principal      = "logs.amazonaws.com"
  source_arn     = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${each.key}:*"
  source_account = local.account_id
}

################################################################################
# EventBridge rules: runtime/sources/eventbridge.py reads each event (or the S3 object it names)
################################################################################

resource "aws_cloudwatch_event_rule" "sources" {
  for_each = var.eventbridge_rules

  name           = "${var.name}-${each.key}"
  description    = coalesce(each.value.description, "Events the Sigil function ${var.name} evaluates")
  event_bus_name = each.value.event_bus_name
  event_pattern  = each.value.event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "sources" {
  for_each = var.eventbridge_rules

  rule           = aws_cloudwatch_event_rule.sources[each.key].name
  event_bus_name = each.value.event_bus_name
  arn            = aws_lambda_alias.live.arn

  depends_on = [aws_lambda_permission.eventbridge]
}

resource "aws_lambda_permission" "eventbridge" {
  for_each = var.eventbridge_rules

  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sources[each.key].arn
}
