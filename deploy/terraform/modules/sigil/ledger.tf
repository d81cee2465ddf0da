locals {
  # Decided from inputs only, so the statements and environment are known at plan time.
  delivery_ledger_enabled = var.create_delivery_ledger || var.delivery_ledger_table_arn != null
  # An existing table is given by ARN (arn:<partition>:dynamodb:<region>:<account>:table/<name>).
  delivery_ledger_arn_parts = var.delivery_ledger_table_arn == null ? [] : split(":", var.delivery_ledger_table_arn)
  delivery_ledger_table_arn = var.create_delivery_ledger ? aws_dynamodb_table.ledger[0].arn : var.delivery_ledger_table_arn
  # The runtime names the table by name (runtime/outputs/ledger.py, TableName=...), hence a table of the
  # function's own account and region (checked by a precondition of the function).
  delivery_ledger_table_name = (
    var.create_delivery_ledger ? aws_dynamodb_table.ledger[0].name :
    var.delivery_ledger_table_arn == null ? null :
    split("/", var.delivery_ledger_table_arn)[1]
  )
}

################################################################################
# Delivery ledger: (alert id, output) pairs already delivered or dead-lettered
################################################################################

# Key schema and TTL attribute of runtime/outputs/ledger.py: one item per pair,
# {alert_id, output, outcome, settled_at, expires_at}, expiring 7 days after it was settled.
resource "aws_dynamodb_table" "ledger" {
  count = var.create_delivery_ledger ? 1 : 0

  name         = coalesce(var.delivery_ledger_table_name, "${var.name}-delivery-ledger")
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "alert_id"
  range_key    = "output"

  attribute {
    name = "alert_id"
    type = "S"
  }

  attribute {
    name = "output"
    type = "S"
  }

  # DynamoDB deletes expired items lazily; the runtime treats an item past expires_at as absent.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.delivery_ledger_point_in_time_recovery_enabled
  }

  # The AWS managed key aws/dynamodb, or the given customer managed key.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.delivery_ledger_kms_key_arn
  }

  deletion_protection_enabled = var.delivery_ledger_deletion_protection_enabled

  tags = var.tags
}
