# Stateful detection (runtime/stateful.py): the state of correlations and dedup windows, and the schedule
# that sends the follow-ups of closed dedup windows. The table's key schema and TTL attribute are those
# of runtime/state/dynamodb.py: one item per key {key, doc, version, expires_at}.

variable "create_state_table" {
  description = "Whether to create the DynamoDB state table of correlations and dedup windows (`SIGIL_STATE_TABLE`), its permissions and the schedule that sends dedup follow-ups; a rule package with correlations or dedup refuses to run without it"
  type        = bool
  default     = false
}

variable "state_kms_key_arn" {
  description = "ARN of a customer managed KMS key encrypting the state table (correlations, dedup); null: the module's key (`create_kms_key` or `kms_key_arn`), else the AWS managed key aws/dynamodb"
  type        = string
  default     = null

  validation {
    condition     = var.state_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.state_kms_key_arn))
    error_message = "state_kms_key_arn must be a KMS key ARN."
  }
}

variable "state_flush_schedule" {
  description = "EventBridge schedule expression of the invocation that sends the follow-up alerts of closed dedup windows"
  type        = string
  default     = "rate(5 minutes)"
}

locals {
  # Known at plan time (the policy does not wait for the table): the table of the function's account and region.
  state_table_name = "${var.name}-state"
  state_table_arn  = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.state_table_name}"
  # The state table's key: the one given, else the module's (decided from inputs only, like kms_key_enabled).
  state_kms_key_enabled = var.state_kms_key_arn != null || local.kms_key_enabled
  state_kms_key_arn     = var.state_kms_key_arn != null ? var.state_kms_key_arn : local.kms_key_arn
}

resource "aws_dynamodb_table" "state" {
  count = var.create_state_table ? 1 : 0

  name         = local.state_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "key"

  attribute {
    name = "key"
    type = "S"
  }

  # DynamoDB deletes expired items lazily; the runtime treats an item past expires_at as absent.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.state_kms_key_enabled ? local.state_kms_key_arn : null
  }

  tags = var.tags
}

data "aws_iam_policy_document" "state" {
  count = var.create_state_table ? 1 : 0

  # runtime/state/dynamodb.py: consistent get_item, conditional put_item / delete_item, and a scan of the
  # dedup windows by the scheduled flush.
  statement {
    sid    = "ReadWriteState"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "dynamodb:Scan",
    ]
    resources = [local.state_table_arn]
  }

  # DynamoDB uses the table key with the caller's permissions: only through DynamoDB in this region.
  dynamic "statement" {
    for_each = local.state_kms_key_enabled ? [local.state_kms_key_arn] : []

    content {
      sid       = "UseStateKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_role_policy" "state" {
  count = var.create_state_table ? 1 : 0

  name   = "sigil-state"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.state[0].json
}

# The scheduled flush: runtime.handler sends the follow-ups of closed dedup windows on this input.
resource "aws_cloudwatch_event_rule" "dedup_flush" {
  count = var.create_state_table ? 1 : 0

  name                = "${var.name}-dedup-flush"
  description         = "Send the follow-up alerts of closed dedup windows"
  schedule_expression = var.state_flush_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "dedup_flush" {
  count = var.create_state_table ? 1 : 0

  rule  = aws_cloudwatch_event_rule.dedup_flush[0].name
  arn   = aws_lambda_alias.live.arn
  input = jsonencode({ sigil = "flush" })
}

resource "aws_lambda_permission" "dedup_flush" {
  count = var.create_state_table ? 1 : 0

  statement_id  = "AllowDedupFlushSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.dedup_flush[0].arn
}

output "dynamodb_table_state_name" {
  description = "Name of the DynamoDB table of correlation and dedup state (`SIGIL_STATE_TABLE`), or null without `create_state_table`"
  value       = var.create_state_table ? aws_dynamodb_table.state[0].name : null
}
