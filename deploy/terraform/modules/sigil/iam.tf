locals {
  # AWS managed keys (alias/aws/*) are usable by any principal of the account through the owning
  # service (their key policy says so), so the role only needs KMS permissions for customer managed
  # keys, which are passed as key ARNs.
  # A null key (no encryption) coalesces to an AWS managed alias and needs nothing either.
  kinesis_kms_key_arn = startswith(coalesce(var.kinesis_kms_key_id, "alias/aws/"), "alias/aws/") ? null : var.kinesis_kms_key_id
  sns_kms_key_arn     = startswith(coalesce(var.sns_kms_master_key_id, "alias/aws/"), "alias/aws/") ? null : var.sns_kms_master_key_id

  # Decided from inputs only, so the number of statements is known at plan time even when the ARNs are not.
  dlq_enabled        = var.create_dlq || var.dlq_arn != null
  quarantine_enabled = var.create_quarantine_bucket || var.quarantine_bucket_arn != null
}

################################################################################
# Execution role
################################################################################

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name                 = var.name
  description          = "Execution role of the ${var.name} Sigil Lambda function"
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.role_permissions_boundary

  tags = var.tags
}

################################################################################
# Least-privilege permissions
################################################################################

data "aws_iam_policy_document" "lambda" {
  # The permissions of the optional features (dead-letter queue, quarantine, sources, secrets).
  source_policy_documents = [data.aws_iam_policy_document.optional.json]

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid    = "ReadInputStream"
    effect = "Allow"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this.arn]
  }

  # ListStreams is an account-level action: it supports no resource other than "*".
  statement {
    sid       = "ListStreams"
    effect    = "Allow"
    actions   = ["kinesis:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid       = "PublishAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }

  dynamic "statement" {
    for_each = local.kinesis_kms_key_arn != null ? [local.kinesis_kms_key_arn] : []

    content {
      sid       = "DecryptInputStream"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.sns_kms_key_arn != null ? [local.sns_kms_key_arn] : []

    content {
      sid    = "EncryptAlerts"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]
      resources = [statement.value]
    }
  }
}

################################################################################
# Optional permissions: each statement exists only when its feature is configured
################################################################################

data "aws_iam_policy_document" "optional" {
  dynamic "statement" {
    for_each = local.dlq_enabled ? [local.dlq_arn] : []

    content {
      sid       = "SendDeadLetters"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.quarantine_enabled ? [local.quarantine_objects_arn] : []

    content {
      sid       = "WriteQuarantine"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.quarantine_enabled && var.quarantine_kms_key_arn != null ? [var.quarantine_kms_key_arn] : []

    content {
      sid       = "EncryptQuarantine"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  # GetObjectVersion: notifications from versioned buckets name the object version.
  dynamic "statement" {
    for_each = length(var.s3_sources) > 0 ? [local.s3_source_object_arns] : []

    content {
      sid    = "ReadSourceObjects"
      effect = "Allow"
      actions = [
        "s3:GetObject",
        "s3:GetObjectVersion",
      ]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.sqs_source_queue_arns) > 0 ? [var.sqs_source_queue_arns] : []

    content {
      sid    = "ReadSourceQueues"
      effect = "Allow"
      actions = [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
      ]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.source_kms_key_arns) > 0 ? [var.source_kms_key_arns] : []

    content {
      sid       = "DecryptSources"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = var.secrets_prefix != null ? [var.secrets_prefix] : []

    content {
      sid       = "ReadSecretsManagerSecrets"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${statement.value}/*"]
    }
  }

  # A parameter ARN is `parameter` followed by the name, whose leading slash the prefix carries.
  dynamic "statement" {
    for_each = var.secrets_prefix != null ? [var.secrets_prefix] : []

    content {
      sid       = "ReadSsmParameters"
      effect    = "Allow"
      actions   = ["ssm:GetParameter"]
      resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${statement.value}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.secrets_prefix != null && var.secrets_kms_key_arn != null ? [var.secrets_kms_key_arn] : []

    content {
      sid       = "DecryptSecrets"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "sigil"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
