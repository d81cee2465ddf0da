locals {
  # AWS managed keys (alias/aws/*) are usable by any principal of the account through the owning
  # service (their key policy says so), so the role only needs KMS permissions for customer managed
  # keys, which are passed as key ARNs.
  # A null key (no encryption) coalesces to an AWS managed alias and needs nothing either.
  kinesis_kms_key_arn = startswith(coalesce(var.kinesis_kms_key_id, "alias/aws/"), "alias/aws/") ? null : var.kinesis_kms_key_id
  sns_kms_key_arn     = startswith(coalesce(var.sns_kms_master_key_id, "alias/aws/"), "alias/aws/") ? null : var.sns_kms_master_key_id
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

resource "aws_iam_role_policy" "lambda" {
  name   = "sigil"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
