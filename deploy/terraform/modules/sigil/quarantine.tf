locals {
  quarantine_bucket_arn  = var.create_quarantine_bucket ? aws_s3_bucket.quarantine[0].arn : var.quarantine_bucket_arn
  quarantine_bucket_name = local.quarantine_bucket_arn == null ? null : split(":", local.quarantine_bucket_arn)[5]
  quarantine_url         = local.quarantine_bucket_arn == null ? null : "s3://${local.quarantine_bucket_name}/${var.quarantine_prefix}"
  # The runtime writes <prefix>/YYYY/MM/DD/<sha256>.jsonl: the role may put objects there and nowhere else.
  quarantine_objects_arn = local.quarantine_bucket_arn == null ? null : "${local.quarantine_bucket_arn}/${var.quarantine_prefix}/*"
  # Bucket names are lower case; bucket_prefix is limited to 37 characters.
  quarantine_bucket_prefix = "${substr(lower(replace(var.name, "_", "-")), 0, 25)}-quarantine-"
}

################################################################################
# Quarantine bucket for records no schema accepts
################################################################################

resource "aws_s3_bucket" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket        = var.quarantine_bucket_name
  bucket_prefix = var.quarantine_bucket_name == null ? local.quarantine_bucket_prefix : null
  force_destroy = var.quarantine_bucket_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket = aws_s3_bucket.quarantine[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket = aws_s3_bucket.quarantine[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket = aws_s3_bucket.quarantine[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.quarantine_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.quarantine_kms_key_arn
    }
    bucket_key_enabled = var.quarantine_kms_key_arn != null
  }
}

resource "aws_s3_bucket_versioning" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket = aws_s3_bucket.quarantine[0].id

  versioning_configuration {
    status = "Enabled"
  }
}
