# Plans the module offline (`terraform test`, no AWS account or network needed) and checks its optional
# CloudWatch alarms: none by default; when enabled, each alarm's namespace, metric, dimensions,
# statistic, threshold, period and actions; the dead-letter queue's alarm only for a queue this
# account and region can watch; the namespace shared with the function (SIGIL_METRICS_NAMESPACE).
# tests/test_terraform.py checks that the Sigil metrics named here are those runtime/metrics.py writes.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # Nothing may reach AWS: fail at once rather than retry.
  max_retries = 1
}

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "111111111111"
    arn        = "arn:aws:iam::111111111111:user/test"
    user_id    = "test"
  }
}

override_data {
  target = data.aws_region.current
  values = {
    name = "eu-west-1"
  }
}

# Also keeps the provider from calling Kinesis DescribeLimits while planning the stream.
override_resource {
  target          = aws_kinesis_stream.this
  override_during = plan
  values = {
    arn = "arn:aws:kinesis:eu-west-1:111111111111:stream/sigil"
  }
}

# Known-at-plan stand-ins for what AWS computes, so that the function's environment is known at plan.
override_resource {
  target          = aws_kms_key.this
  override_during = plan
  values = {
    arn = "arn:aws:kms:eu-west-1:111111111111:key/sigil"
  }
}

override_resource {
  target          = aws_sqs_queue.failed_events
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:111111111111:sigil-failed-events"
  }
}

override_resource {
  target          = aws_sns_topic.this
  override_during = plan
  values = {
    arn = "arn:aws:sns:eu-west-1:111111111111:sigil-alerts"
  }
}

override_resource {
  target          = aws_sqs_queue.dlq
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:111111111111:sigil-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/111111111111/sigil-dlq"
  }
}

override_resource {
  target          = aws_s3_bucket.quarantine
  override_during = plan
  values = {
    arn    = "arn:aws:s3:::sigil-quarantine-123"
    bucket = "sigil-quarantine-123"
    id     = "sigil-quarantine-123"
  }
}

variables {
  name = "sigil"
  # Any existing file: a plan only hashes the package.
  package_path = "README.md"
  tags         = { Team = "secops" }
}

run "no_alarms_by_default" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0
    error_message = "No alarm may be created unless create_alarms is true"
  }

  assert {
    condition     = length(output.cloudwatch_metric_alarm_arns) == 0
    error_message = "The alarm ARNs output must be empty without alarms"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_METRICS_NAMESPACE"] == "Sigil"
    error_message = "The function must write its metrics in the default namespace, Sigil"
  }
}

run "alarms_settings_without_create_alarms_create_nothing" {
  command = plan

  variables {
    alarms = { sns_topic_arns = ["arn:aws:sns:eu-west-1:111111111111:oncall"] }
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0
    error_message = "The settings of alarms alone create no alarm"
  }
}

run "enabled_alarms_watch_the_right_metrics" {
  command = plan

  variables {
    create_alarms = true
    alarms        = { sns_topic_arns = ["arn:aws:sns:eu-west-1:111111111111:oncall", "arn:aws:sns:eu-west-1:111111111111:secops"] }
  }

  assert {
    condition = jsonencode({
      for key, a in aws_cloudwatch_metric_alarm.this : key => [a.alarm_name, a.namespace, a.metric_name, a.dimensions, a.statistic, a.comparison_operator, a.threshold, a.period, a.evaluation_periods, a.treat_missing_data]
      }) == jsonencode({
      dead_lettered          = ["sigil-dead-lettered", "Sigil", "AlertsDeadLettered", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      dlq_messages           = ["sigil-dlq-messages", "AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName = "sigil-dlq" }, "Maximum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      failed_events_messages = ["sigil-failed-events-messages", "AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName = "sigil-failed-events" }, "Maximum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      failed_items           = ["sigil-failed-items", "Sigil", "FailedItems", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      iterator_age           = ["sigil-iterator-age", "AWS/Lambda", "IteratorAge", { FunctionName = "sigil" }, "Maximum", "GreaterThanThreshold", 900000, 300, 1, "notBreaching"]
      lambda_errors          = ["sigil-lambda-errors", "AWS/Lambda", "Errors", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      lambda_throttles       = ["sigil-lambda-throttles", "AWS/Lambda", "Throttles", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      quarantined            = ["sigil-quarantined", "Sigil", "Quarantined", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
      rule_errors            = ["sigil-rule-errors", "Sigil", "RuleErrors", { FunctionName = "sigil" }, "Sum", "GreaterThanThreshold", 0, 300, 1, "notBreaching"]
    })
    error_message = "Each alarm must watch its metric, in its namespace, for the module's function or dead-letter queue, with the default thresholds"
  }

  assert {
    condition = alltrue([
      for a in aws_cloudwatch_metric_alarm.this :
      a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111111111111:oncall", "arn:aws:sns:eu-west-1:111111111111:secops"]) &&
      a.ok_actions == toset(["arn:aws:sns:eu-west-1:111111111111:oncall", "arn:aws:sns:eu-west-1:111111111111:secops"]) &&
      a.actions_enabled && a.datapoints_to_alarm == null && a.tags == tomap({ Team = "secops" }) && a.alarm_description != ""
    ])
    error_message = "Each alarm must notify the given topics when it fires and when it clears, and carry the module's tags"
  }

  assert {
    condition     = toset(keys(output.cloudwatch_metric_alarm_arns)) == toset(keys(aws_cloudwatch_metric_alarm.this))
    error_message = "The output must give the ARN of every alarm, by alarm"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_METRICS_NAMESPACE"] == aws_cloudwatch_metric_alarm.this["failed_items"].namespace
    error_message = "The alarms must read the namespace the function writes"
  }
}

run "alarms_follow_the_metrics_namespace" {
  command = plan

  variables {
    create_alarms     = true
    metrics_namespace = "Acme/Detection"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_METRICS_NAMESPACE"] == "Acme/Detection"
    error_message = "The function must write its metrics in the given namespace"
  }

  assert {
    condition = jsonencode({ for key, a in aws_cloudwatch_metric_alarm.this : key => a.namespace }) == jsonencode({
      dead_lettered          = "Acme/Detection"
      dlq_messages           = "AWS/SQS"
      failed_events_messages = "AWS/SQS"
      failed_items           = "Acme/Detection"
      iterator_age           = "AWS/Lambda"
      lambda_errors          = "AWS/Lambda"
      lambda_throttles       = "AWS/Lambda"
      quarantined            = "Acme/Detection"
      rule_errors            = "Acme/Detection"
    })
    error_message = "The alarms on the function's own metrics must read the given namespace, the others their service's"
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : try(length(a.alarm_actions), 0) == 0 && try(length(a.ok_actions), 0) == 0])
    error_message = "Without topics the alarms notify nobody"
  }
}

run "alarm_settings_are_applied" {
  command = plan

  variables {
    name          = "detect_prod"
    create_alarms = true
    alarms = {
      sns_topic_arns   = ["arn:aws:sns:eu-west-1:111111111111:oncall"]
      ok_actions       = false
      name_prefix      = "secops/sigil "
      lambda_throttles = { enabled = false }
      iterator_age     = { threshold = 3600000, period = 60, evaluation_periods = 5, datapoints_to_alarm = 3 }
      quarantined      = { threshold = 100, period = 3600, evaluation_periods = 24 }
      dlq_messages     = { enabled = false }
    }
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.this)) == toset(["lambda_errors", "iterator_age", "failed_items", "dead_lettered", "quarantined", "rule_errors", "failed_events_messages"])
    error_message = "A disabled alarm must be left out, and only it"
  }

  assert {
    condition = jsonencode([
      for a in [aws_cloudwatch_metric_alarm.this["iterator_age"], aws_cloudwatch_metric_alarm.this["quarantined"], aws_cloudwatch_metric_alarm.this["lambda_errors"]] :
      [a.alarm_name, a.dimensions, a.threshold, a.period, a.evaluation_periods, a.datapoints_to_alarm]
      ]) == jsonencode([
      ["secops/sigil iterator-age", { FunctionName = "detect_prod" }, 3600000, 60, 5, 3],
      ["secops/sigil quarantined", { FunctionName = "detect_prod" }, 100, 3600, 24, null],
      ["secops/sigil lambda-errors", { FunctionName = "detect_prod" }, 0, 300, 1, null],
    ])
    error_message = "The given thresholds, periods and name prefix must be applied, the defaults kept for the other alarms"
  }

  assert {
    condition = alltrue([
      for a in aws_cloudwatch_metric_alarm.this :
      a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111111111111:oncall"]) && try(length(a.ok_actions), 0) == 0
    ])
    error_message = "With ok_actions false the topics are notified when an alarm fires only"
  }
}

run "no_dead_letter_queue_no_queue_alarm" {
  command = plan

  variables {
    create_dlq    = false
    create_alarms = true
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.this), "dlq_messages") && length(aws_cloudwatch_metric_alarm.this) == 8
    error_message = "Without a dead-letter queue there is no queue alarm, and every other alarm remains"
  }
}

run "existing_dead_letter_queue_in_this_account_is_watched" {
  command = plan

  variables {
    create_dlq    = false
    dlq_arn       = "arn:aws:sqs:eu-west-1:111111111111:alerts-dlq"
    create_alarms = true
  }

  assert {
    condition = jsonencode([
      aws_cloudwatch_metric_alarm.this["dlq_messages"].namespace,
      aws_cloudwatch_metric_alarm.this["dlq_messages"].metric_name,
      aws_cloudwatch_metric_alarm.this["dlq_messages"].dimensions,
    ]) == jsonencode(["AWS/SQS", "ApproximateNumberOfMessagesVisible", { QueueName = "alerts-dlq" }])
    error_message = "The alarm must watch the existing queue by name"
  }
}

run "existing_dead_letter_queue_elsewhere_is_not_watched" {
  command = plan

  variables {
    create_dlq    = false
    dlq_arn       = "arn:aws:sqs:eu-west-1:222222222222:alerts-dlq"
    create_alarms = true
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.this), "dlq_messages") && length(aws_cloudwatch_metric_alarm.this) == 8
    error_message = "A queue of another account publishes its metrics there: no alarm here"
  }
}

# A dead-letter queue ARN unknown until apply (a queue created alongside) leaves the alarms decided at plan
# as long as its own alarm is not asked for: that one needs the ARN at plan (to know whether the queue
# can be watched from here), as the module's source ARNs do.
run "unknown_dead_letter_queue_arn_without_alarms" {
  command = plan

  providers = {
    aws = aws
  }

  module {
    source = "./tests/unknown_dlq"
  }

  override_data {
    target = module.sigil.data.aws_caller_identity.current
    values = {
      account_id = "111111111111"
      arn        = "arn:aws:iam::111111111111:user/test"
      user_id    = "test"
    }
  }

  override_data {
    target = module.sigil.data.aws_region.current
    values = {
      name = "eu-west-1"
    }
  }

  override_resource {
    target          = module.sigil.aws_kinesis_stream.this
    override_during = plan
    values = {
      arn = "arn:aws:kinesis:eu-west-1:111111111111:stream/sigil"
    }
  }

  assert {
    condition     = length(output.alarms) == 0
    error_message = "No alarm by default, whatever the dead-letter queue"
  }
}

run "unknown_dead_letter_queue_arn_with_the_other_alarms" {
  command = plan

  providers = {
    aws = aws
  }

  module {
    source = "./tests/unknown_dlq"
  }

  variables {
    create_alarms = true
    dlq_alarm     = false
  }

  override_data {
    target = module.sigil.data.aws_caller_identity.current
    values = {
      account_id = "111111111111"
      arn        = "arn:aws:iam::111111111111:user/test"
      user_id    = "test"
    }
  }

  override_data {
    target = module.sigil.data.aws_region.current
    values = {
      name = "eu-west-1"
    }
  }

  override_resource {
    target          = module.sigil.aws_kinesis_stream.this
    override_during = plan
    values = {
      arn = "arn:aws:kinesis:eu-west-1:111111111111:stream/sigil"
    }
  }

  assert {
    condition     = toset(keys(output.alarms)) == toset(["lambda_errors", "lambda_throttles", "iterator_age", "failed_items", "dead_lettered", "quarantined", "rule_errors", "failed_events_messages"])
    error_message = "Every alarm but the queue's must be planned"
  }
}

run "failed_events_queue_alarm_follows_the_queue" {
  command = plan

  variables {
    create_failed_events_queue = false
    failed_events_queue_arn    = "arn:aws:sqs:eu-west-1:111111111111:shared-failed"
    create_alarms              = true
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["failed_events_messages"].dimensions == tomap({ QueueName = "shared-failed" })
    error_message = "The alarm must watch the existing failed-events queue by name"
  }
}

run "no_failed_events_queue_no_alarm" {
  command = plan

  variables {
    create_failed_events_queue = false
    create_alarms              = true
  }

  assert {
    condition     = !contains(keys(aws_cloudwatch_metric_alarm.this), "failed_events_messages") && length(aws_cloudwatch_metric_alarm.this) == 8
    error_message = "Without a failed-events queue there is no alarm on it, and every other alarm remains"
  }
}

run "alarm_topics_reject_a_name" {
  command = plan

  variables {
    alarms = { sns_topic_arns = ["oncall"] }
  }

  expect_failures = [var.alarms]
}

run "alarm_period_rejects_sub_minute_periods" {
  command = plan

  variables {
    alarms = { failed_items = { period = 90 } }
  }

  expect_failures = [var.alarms]
}

run "alarm_rejects_more_datapoints_than_periods" {
  command = plan

  variables {
    alarms = { dead_lettered = { evaluation_periods = 2, datapoints_to_alarm = 3 } }
  }

  expect_failures = [var.alarms]
}

run "alarm_rejects_more_than_a_day_of_short_periods" {
  command = plan

  variables {
    alarms = { quarantined = { period = 300, evaluation_periods = 289 } }
  }

  expect_failures = [var.alarms]
}

run "metrics_namespace_rejects_an_aws_namespace" {
  command = plan

  variables {
    metrics_namespace = "AWS/Lambda"
  }

  expect_failures = [var.metrics_namespace]
}
