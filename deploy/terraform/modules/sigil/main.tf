data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  kinesis_stream_name = coalesce(var.kinesis_stream_name, var.name)
  sns_topic_name      = coalesce(var.sns_topic_name, "${var.name}-alerts")

  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # Runtime configuration (docs/architecture.md, "Runtime configuration"). Which variables are set
  # depends on inputs only, so the names are known at plan time even when the values are not.
  lambda_environment = merge(
    { SIGIL_ALERTS_TOPIC_ARN = aws_sns_topic.this.arn },
    # Always set, so that the alarms on the function's metrics (alarms.tf) read the namespace it writes.
    { SIGIL_METRICS_NAMESPACE = var.metrics_namespace },
    local.dlq_enabled ? { SIGIL_DLQ_URL = local.dlq_url } : {},
    local.quarantine_enabled ? { SIGIL_QUARANTINE_URL = local.quarantine_url } : {},
    var.secrets_prefix != null ? { SIGIL_SECRETS_PREFIX = var.secrets_prefix } : {},
    local.delivery_ledger_enabled ? { SIGIL_LEDGER_TABLE = local.delivery_ledger_table_name } : {},
    local.outputs_declared ? { SIGIL_OUTPUTS_OVERRIDE = jsonencode(var.outputs) } : {},
    var.create_state_table ? { SIGIL_STATE_TABLE = aws_dynamodb_table.state[0].name } : {}, # state.tf
  )

  # `outputs` (runtime/outputs/config.py merges SIGIL_OUTPUTS_OVERRIDE over outputs.json at cold start).
  outputs_declared = length(var.outputs) > 0
  # Outputs other than AWS ones read a secret under the prefix (runtime/secrets.py).
  outputs_need_secrets = anytrue([for descriptor, settings in var.outputs : !startswith(descriptor, "aws-")])
}

################################################################################
# Lambda function
################################################################################

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:VPC is opt-in (vpc_subnet_ids): the function only calls AWS APIs and the outputs' HTTPS endpoints, and a VPC without NAT or endpoints would cut it off from them.
  #checkov:skip=CKV_AWS_272:Code signing is opt-in (code_signing_config_arn): it needs an AWS Signer profile and a signed bundle, which `make bundle` does not produce.
  function_name = var.name
  description   = var.description
  role          = aws_iam_role.lambda.arn

  # The zip written by `make bundle`: runtime/ and sigil_rules/ at the zip root.
  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)
  handler          = "runtime.handler.handler"
  runtime          = "python3.12"
  architectures    = var.architectures

  # Every deployment publishes a version; triggers invoke the `live` alias (alias.tf), so that a bad
  # bundle is rolled back by pointing the alias at an earlier version.
  publish = true

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.lambda_environment
  }
  # The module's key (kms.tf), also the log group's.
  kms_key_arn = local.kms_key_arn

  tracing_config {
    mode = var.tracing_mode
  }

  # Asynchronous invocations (SNS, CloudWatch Logs, EventBridge, S3) are retried twice by Lambda; an event
  # still failing then lands here instead of being dropped (failed_events.tf).
  dynamic "dead_letter_config" {
    for_each = local.failed_events_enabled ? [local.failed_events_queue_arn] : []

    content {
      target_arn = dead_letter_config.value
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [var.vpc_subnet_ids] : []

    content {
      subnet_ids         = vpc_config.value
      security_group_ids = var.vpc_security_group_ids
    }
  }

  code_signing_config_arn = var.code_signing_config_arn

  tags = var.tags

  # The log group must exist (with its retention) before Lambda creates it implicitly, and the
  # role must be able to write to it from the first invocation; Lambda also checks, when it creates the
  # function, that the role may send to the dead-letter target and (in a VPC) manage network interfaces.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.lambda,
    aws_iam_role_policy_attachment.vpc,
  ]

  lifecycle {
    # SIGIL_LEDGER_TABLE is a table name, which the runtime's DynamoDB client resolves in its own
    # account and region; a table elsewhere would fail every lookup (logged, never fatal) unnoticed.
    precondition {
      condition = (
        var.create_delivery_ledger || var.delivery_ledger_table_arn == null ? true :
        local.delivery_ledger_arn_parts[3] == local.region && local.delivery_ledger_arn_parts[4] == local.account_id
      )
      error_message = "The delivery ledger table (delivery_ledger_table_arn) must be in the function's own account and region."
    }

    # Slack, PagerDuty, Teams, Jira and webhook outputs read their secret under SIGIL_SECRETS_PREFIX, which
    # the role may read only when secrets_prefix is set.
    precondition {
      condition     = !local.outputs_need_secrets || var.secrets_prefix != null
      error_message = "The outputs other than AWS ones (slack, pagerduty, teams, jira, webhook) read their secret under secrets_prefix, which must then not be null."
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.cloudwatch_logs_retention_in_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

################################################################################
# Kinesis input stream
################################################################################

resource "aws_kinesis_stream" "this" {
  name             = local.kinesis_stream_name
  retention_period = var.kinesis_retention_period
  shard_count      = var.kinesis_stream_mode == "PROVISIONED" ? var.kinesis_shard_count : null

  stream_mode_details {
    stream_mode = var.kinesis_stream_mode
  }

  encryption_type = var.kinesis_kms_key_id == null ? "NONE" : "KMS"
  kms_key_id      = var.kinesis_kms_key_id

  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn  = aws_kinesis_stream.this.arn
  function_name     = aws_lambda_alias.live.arn
  starting_position = var.event_source_starting_position
  batch_size        = var.event_source_batch_size

  # Failed records are reported individually by the handler; a failing batch is split in two
  # (which does not count against the retry quota) to isolate poison records.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.event_source_maximum_retry_attempts

  # Records still failing after the retries are skipped; their shard and sequence numbers go to the
  # failed-events queue rather than nowhere (replay them from the stream while it retains them).
  dynamic "destination_config" {
    for_each = local.failed_events_enabled ? [local.failed_events_queue_arn] : []

    content {
      on_failure {
        destination_arn = destination_config.value
      }
    }
  }

  # `tags` is not set here: event source mappings are only taggable from AWS provider 5.77 on,
  # and this module supports >= 5.0.

  # Lambda validates the role's Kinesis permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.lambda]
}

################################################################################
# SNS alerts topic
################################################################################

resource "aws_sns_topic" "this" {
  name              = local.sns_topic_name
  kms_master_key_id = var.sns_kms_master_key_id

  tags = var.tags
}
