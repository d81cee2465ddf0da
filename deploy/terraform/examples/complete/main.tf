provider "aws" {
  region = var.region
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  tags = {
    Project    = "sigil"
    Example    = "complete"
    Repository = "sigil"
  }

  # The module keys per-bucket and per-queue resources by ARN, so the ARNs must be known at plan
  # time: they are built from the names (known at plan, and they keep the dependency) rather than
  # read from the resources' computed `arn`.
  log_bucket_arn   = "arn:aws:s3:::${aws_s3_bucket.logs.bucket}"
  source_queue_arn = "arn:aws:sqs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${aws_sqs_queue.source.name}"
}

module "sigil" {
  source = "../../modules/sigil"

  name = var.name

  # Written by `make bundle` at the root of the repository.
  package_path = "${path.module}/../../../../build/sigil-lambda.zip"

  architectures                  = ["arm64"]
  memory_size                    = 512
  timeout                        = 60
  reserved_concurrent_executions = 10

  cloudwatch_logs_retention_in_days = 30

  kinesis_stream_mode      = "ON_DEMAND"
  kinesis_retention_period = 24
  kinesis_kms_key_id       = "alias/aws/kinesis"

  event_source_starting_position      = "LATEST"
  event_source_batch_size             = 100
  event_source_maximum_retry_attempts = 3

  sns_kms_master_key_id = "alias/aws/sns"

  # S3 log bucket: the function may read objects under AWSLogs/ and be invoked by the bucket's
  # notifications (aws_s3_bucket_notification.logs below).
  s3_sources = [
    {
      bucket_arn = local.log_bucket_arn
      prefixes   = ["AWSLogs/"]
    },
  ]

  # SQS queue carrying log records (or S3 notifications relayed through SQS).
  sqs_source_queue_arns                               = [local.source_queue_arn]
  sqs_event_source_batch_size                         = 10
  sqs_event_source_maximum_batching_window_in_seconds = 0

  # Undeliverable alerts go to a dead-letter queue created by the module (SSE-SQS).
  create_dlq                    = true
  dlq_message_retention_seconds = 1209600

  # Unparseable records are quarantined to a bucket created by the module (SSE-S3, versioned,
  # public access blocked) under quarantine/.
  create_quarantine_bucket = true
  quarantine_prefix        = "quarantine"

  # Output secrets (webhook URLs, keys) live in Secrets Manager or SSM under this path.
  secrets_prefix = "/sigil/outputs"

  # Alert outputs, declared once: the module passes their settings to the function (SIGIL_OUTPUTS_OVERRIDE,
  # merged over outputs.json) and grants the role exactly what each output calls, on the resource its
  # settings name (docs/outputs.md). Here the queue below is the `aws-sqs:triage` output; rules route
  # alerts to it with `outputs: [aws-sqs:triage]` (or outputs.json's default_outputs).
  outputs = {
    "aws-sqs:triage" = { queue_url = aws_sqs_queue.alerts.url }
    # The other kinds, with the permission each gets:
    # "aws-sns:secops"            = { topic_arn = "arn:aws:sns:eu-west-1:123456789012:secops" }   # sns:Publish
    # "aws-s3:archive"            = { bucket = "my-alerts", prefix = "alerts/", format = "ocsf" } # s3:PutObject on my-alerts/alerts/*
    # "aws-firehose:lake"         = { stream = "sigil-alerts" }                                   # firehose:PutRecord
    # "aws-lambda:enrich"         = { function = "enrich", qualifier = "live" }                   # lambda:InvokeFunction on enrich:live
    # "aws-cloudwatch-log:alerts" = { log_group = "/sigil/alerts" }                               # logs:CreateLogStream, logs:PutLogEvents
    # "slack:secops"              = {}                                                            # its secret, under secrets_prefix
    # "jira:secops"               = { project = "SEC", labels = ["detection"] }                   # its secret, under secrets_prefix
  }

  # Permissions for what `outputs` does not name: here, the customer managed keys of encrypted targets
  # (kms:GenerateDataKey, plus kms:Decrypt for topics and queues), or outputs kept in outputs.json only.
  alert_outputs = {
    # kms_key_arns = ["arn:aws:kms:eu-west-1:123456789012:key/<id>"]
  }

  # DynamoDB table of delivered (alert, output) pairs, so that a retry on another container does not
  # send an alert twice (SIGIL_LEDGER_TABLE): on-demand, TTL, point-in-time recovery, encrypted.
  create_delivery_ledger                      = true
  delivery_ledger_deletion_protection_enabled = true

  # CloudWatch alarms (the module's README, "Alarms"): Lambda errors, throttles and iterator age, failed items,
  # dead-lettered alerts, quarantined records, rule errors and alerts waiting in the dead-letter queue, each
  # notifying the on-call topic below when it fires and when it clears. The function writes its metrics in
  # metrics_namespace (SIGIL_METRICS_NAMESPACE), which the alarms read.
  metrics_namespace = "Sigil"
  create_alarms     = true
  alarms = {
    sns_topic_arns = [aws_sns_topic.alarms.arn]
    # Thresholds, periods and evaluation periods per alarm, e.g. a busier stream tolerating more lag:
    # iterator_age = { threshold = 1800000 } # 30 minutes, in milliseconds
  }

  tags = local.tags
}

# The topic the alarms notify (subscribe the on-call rotation to it). Not encrypted with alias/aws/sns:
# CloudWatch cannot use that key, and its notifications would be dropped. To encrypt the topic, use a
# customer managed key whose policy lets cloudwatch.amazonaws.com call kms:Decrypt and kms:GenerateDataKey.
resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"

  tags = local.tags
}

################################################################################
# Log sources wired to the function
################################################################################

resource "aws_s3_bucket" "logs" {
  bucket = var.log_bucket_name

  tags = local.tags
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket = aws_s3_bucket.logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# The module grants s3.amazonaws.com the right to invoke the function; the notification is the
# bucket owner's to configure.
resource "aws_s3_bucket_notification" "logs" {
  bucket = aws_s3_bucket.logs.id

  lambda_function {
    lambda_function_arn = module.sigil.lambda_function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "AWSLogs/"
  }

  # S3 checks that it may invoke the function (module.sigil's aws_lambda_permission.s3).
  depends_on = [module.sigil]
}

resource "aws_sqs_queue" "source" {
  name                       = "${var.name}-source"
  sqs_managed_sse_enabled    = true
  visibility_timeout_seconds = 360 # at least six times the function timeout, as Lambda advises

  tags = local.tags
}

################################################################################
# Alert output
################################################################################

# The queue the `aws-sqs:triage` output delivers alerts to (module.sigil's outputs).
resource "aws_sqs_queue" "alerts" {
  name                    = "${var.name}-triage"
  sqs_managed_sse_enabled = true

  tags = local.tags
}
