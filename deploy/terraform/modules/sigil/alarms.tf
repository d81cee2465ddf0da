locals {
  alarm_name_prefix = coalesce(var.alarms.name_prefix, "${var.name}-")

  # The dead-letter queue's metrics are published in the queue's own account and region: an existing queue
  # elsewhere cannot be watched from here (its alarm belongs to that account).
  dlq_queue_name = local.dlq_enabled ? (var.create_dlq ? local.dlq_name : local.dlq_arn_parts[5]) : null
  dlq_alarm_possible = (
    var.create_dlq ? true :
    var.dlq_arn == null ? false :
    local.dlq_arn_parts[3] == local.region && local.dlq_arn_parts[4] == local.account_id
  )

  # As for the dead-letter queue: a failed-events queue of another account or region is watched there.
  failed_events_alarm_possible = (
    var.create_failed_events_queue ? true :
    var.failed_events_queue_arn == null ? false :
    local.failed_events_arn_parts[3] == local.region && local.failed_events_arn_parts[4] == local.account_id
  )

  # Every alarm the module knows: the metric, how it is aggregated, and what to do when it fires (README, "Alarms").
  # All compare `statistic > threshold` and treat missing data as not breaching: the function writes its own
  # metrics for every batch (zeros included), so missing data means no invocation, not a hidden failure.
  alarm_definitions = {
    lambda_errors = {
      settings    = var.alarms.lambda_errors
      exists      = true
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Invocations of ${var.name} failed (unhandled exception, timeout, out of memory, or a retried event of a trigger without partial batch responses): read the function's log group, fix the cause; Kinesis and SQS batches are retried meanwhile."
    }
    lambda_throttles = {
      settings    = var.alarms.lambda_throttles
      exists      = true
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Invocations of ${var.name} were throttled: raise its reserved concurrency or the account's concurrency limit, else logs wait (and the iterator age grows)."
    }
    iterator_age = {
      settings    = var.alarms.iterator_age
      exists      = true
      namespace   = "AWS/Lambda"
      metric_name = "IteratorAge"
      statistic   = "Maximum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "${var.name} is behind its Kinesis stream (${local.kinesis_stream_name}): records reach it late and expire after the stream's retention. Look for errors, throttles or slow batches; add shards or memory."
    }
    failed_items = {
      settings    = var.alarms.failed_items
      exists      = true
      namespace   = var.metrics_namespace
      metric_name = "FailedItems"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Items of ${var.name} failed (unreadable source, undelivered alert, quarantine write error, deadline) and are being retried: read the function's log group; a persisting failure blocks its Kinesis shard."
    }
    dead_lettered = {
      settings    = var.alarms.dead_lettered
      exists      = true
      namespace   = var.metrics_namespace
      metric_name = "AlertsDeadLettered"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Alerts of ${var.name} could not be delivered and went to the dead-letter queue: fix the output (AlertsDeadLettered by Output says which), then `sigil redrive`."
    }
    quarantined = {
      settings    = var.alarms.quarantined
      exists      = true
      namespace   = var.metrics_namespace
      metric_name = "Quarantined"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Records of ${var.name} were quarantined (no rule saw them): read the reason in the quarantine, run `sigil classify` on the payload, fix the schema or source map, replay the record."
    }
    rule_errors = {
      settings    = var.alarms.rule_errors
      exists      = true
      namespace   = var.metrics_namespace
      metric_name = "RuleErrors"
      statistic   = "Sum"
      dimensions  = tomap({ FunctionName = aws_lambda_function.this.function_name })
      description = "Rules of ${var.name} raised on records (RuleErrors by RuleId says which; the `rule_error` log lines say why): those records were not fully evaluated. Fix the rule and redeploy."
    }
    dlq_messages = {
      settings    = var.alarms.dlq_messages
      exists      = local.dlq_alarm_possible
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      dimensions  = tomap({ QueueName = coalesce(local.dlq_queue_name, "none") })
      description = "Undelivered alerts of ${var.name} are waiting in the dead-letter queue ${coalesce(local.dlq_queue_name, "none")} (kept for its retention only): fix the outputs, then `sigil redrive`."
    }
    failed_events_messages = {
      settings    = var.alarms.failed_events_messages
      exists      = local.failed_events_alarm_possible
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      dimensions  = tomap({ QueueName = coalesce(local.failed_events_queue_name, "none") })
      description = "Events ${var.name} never processed are waiting in ${coalesce(local.failed_events_queue_name, "none")}: asynchronous events Lambda gave up on after its retries, or the positions of Kinesis records skipped after theirs. Read them (the module's README, \"Failed events\"), fix the cause, replay them before they expire."
    }
  }

  # Decided from inputs only, so the alarms are known at plan time. Conditionals rather than `&&`, which does
  # not short-circuit: a dead-letter queue ARN unknown until apply must not make every key unknown.
  alarms = var.create_alarms ? {
    for key, alarm in local.alarm_definitions : key => alarm
    if alarm.settings.enabled ? alarm.exists : false
  } : {}
}

################################################################################
# CloudWatch alarms (optional)
################################################################################

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name        = "${local.alarm_name_prefix}${replace(each.key, "_", "-")}"
  alarm_description = each.value.description

  namespace   = each.value.namespace
  metric_name = each.value.metric_name
  dimensions  = each.value.dimensions
  statistic   = each.value.statistic

  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.settings.threshold
  period              = each.value.settings.period
  evaluation_periods  = each.value.settings.evaluation_periods
  datapoints_to_alarm = each.value.settings.datapoints_to_alarm
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarms.sns_topic_arns
  ok_actions    = var.alarms.ok_actions ? var.alarms.sns_topic_arns : []

  tags = var.tags
}
