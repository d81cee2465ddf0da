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

  cloudwatch_logs_retention_in_days = 365

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

  # The log bucket is encrypted with the example's key: the function may decrypt with it.
  source_kms_key_arns = [aws_kms_key.example.arn]

  # SQS queue carrying log records (or S3 notifications relayed through SQS).
  sqs_source_queue_arns                               = [local.source_queue_arn]
  sqs_event_source_batch_size                         = 10
  sqs_event_source_maximum_batching_window_in_seconds = 0

  # SNS topics carrying logs or S3 notifications: the module subscribes the function's `live` alias.
  sns_source_topic_arns = [aws_sns_topic.findings.arn]

  # Log groups whose events the function reads through a subscription filter (same account and region).
  cloudwatch_logs_sources = [
    { log_group_name = aws_cloudwatch_log_group.app.name, filter_pattern = "" },
  ]

  # EventBridge rules targeting the function: here GuardDuty findings, each evaluated as a record.
  eventbridge_rules = {
    guardduty = { event_pattern = jsonencode({ source = ["aws.guardduty"], detail-type = ["GuardDuty Finding"] }) }
  }

  # Each apply publishes a version and points the `live` alias, which every trigger invokes, at it. To roll
  # back for good, pin an earlier version here (`VERSION=N make rollback` does it at once, until the next apply):
  # live_version = "3"

  # X-Ray traces of sampled invocations; the module's KMS key encrypts the environment and the log group.
  tracing_mode   = "Active"
  create_kms_key = true

  # Opt-in: run in a VPC (with NAT or endpoints for the AWS APIs), enforce signed bundles.
  # vpc_subnet_ids          = ["subnet-0123456789abcdef0"]
  # vpc_security_group_ids  = ["sg-0123456789abcdef0"]
  # code_signing_config_arn = "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-0123456789abcdef0"

  # Events Lambda gave up on (asynchronous events after its retries, skipped Kinesis records) go to a
  # failed-events queue created by the module (SSE-SQS).
  create_failed_events_queue = true

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
# CloudWatch cannot use that key, and its notifications would be dropped; the example's key lets
# cloudwatch.amazonaws.com use it.
resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.example.arn

  tags = local.tags
}

# The example's customer managed key: the alarm topic, the log bucket and the application's log group. The function reads the bucket's
# objects with it (module.sigil's source_kms_key_arns); a service writing logs to the bucket (e.g. CloudTrail)
# needs kms:GenerateDataKey on it too: add a statement for it.
resource "aws_kms_key" "example" {
  description         = "Sigil example ${var.name}: alarm topic and log bucket"
  enable_key_rotation = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsAppLogGroup"
        Effect    = "Allow"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:Describe*", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/${var.name}/example-app"
          }
        }
      },
    ]
  })

  tags = local.tags
}

################################################################################
# Log sources wired to the function
################################################################################

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a second region (provider and bucket), beyond this example; the logs' producers usually keep their own copy.
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
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.example.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

# The function reads each object once, when it arrives: the logs are kept a year for investigations.
resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = 365
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

# Access logs go to the bucket the module created for the quarantine bucket's.
resource "aws_s3_bucket_logging" "logs" {
  bucket        = aws_s3_bucket.logs.id
  target_bucket = module.sigil.s3_bucket_access_logs_id
  target_prefix = "logs-access/"
}

# The module grants s3.amazonaws.com the right to invoke the function; the notification is the
# bucket owner's to configure.
resource "aws_s3_bucket_notification" "logs" {
  bucket = aws_s3_bucket.logs.id

  lambda_function {
    lambda_function_arn = module.sigil.lambda_alias_arn
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

# A topic other producers publish logs or S3 notifications to.
resource "aws_sns_topic" "findings" {
  name              = "${var.name}-findings"
  kms_master_key_id = "alias/aws/sns"

  tags = local.tags
}

# An application's log group, delivered to the function by a subscription filter.
resource "aws_cloudwatch_log_group" "app" {
  name              = "/${var.name}/example-app"
  retention_in_days = 365
  kms_key_id        = aws_kms_key.example.arn

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
