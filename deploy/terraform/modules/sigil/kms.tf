locals {
  # Decided from inputs only, so the role's statement is known at plan time.
  kms_key_enabled = var.create_kms_key || var.kms_key_arn != null
  kms_key_arn     = var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  # The log group's ARN as CloudWatch Logs names it in the encryption context of its KMS calls.
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}"
}

################################################################################
# The module's KMS key: the function's environment variables and its log group
################################################################################

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "Sigil ${var.name}: environment variables and log group of the Lambda function, and the state table"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days

  # Inline rather than an aws_iam_policy_document: a key policy names the key as "*" (itself), which is no
  # wildcard, and it is not one of the role's policies the least-privilege checks read.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      # The account's IAM policies decide who administers and uses the key (the deployer; the role's
      # DecryptEnvironment statement), as for a key created in the console.
      {
        Sid       = "AccountIamPolicies"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      # CloudWatch Logs encrypts the function's log group, and only that group.
      {
        Sid       = "CloudWatchLogsLogGroup"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.${data.aws_partition.current.dns_suffix}" }
        Action = [
          "kms:Decrypt",
          "kms:Describe*",
          "kms:Encrypt",
          "kms:GenerateDataKey*",
          "kms:ReEncrypt*",
        ]
        Resource = "*"
        Condition = {
          ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = local.log_group_arn }
        }
      },
    ]
  })

  tags = var.tags
}
