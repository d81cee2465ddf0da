locals {
  quarantine_bucket_arn  = var.create_quarantine_bucket ? aws_s3_bucket.quarantine[0].arn : var.quarantine_bucket_arn
  quarantine_bucket_name = local.quarantine_bucket_arn == null ? null : split(":", local.quarantine_bucket_arn)[5]
  quarantine_url         = local.quarantine_bucket_arn == null ? null : "s3://${local.quarantine_bucket_name}/${var.quarantine_prefix}"
  # The runtime writes <prefix>/YYYY/MM/DD/<sha256>.jsonl: the role may put objects there and nowhere else.
  quarantine_objects_arn = local.quarantine_bucket_arn == null ? null : "${local.quarantine_bucket_arn}/${var.quarantine_prefix}/*"
  # Bucket names are lower case; bucket_prefix is limited to 37 characters.
  quarantine_bucket_prefix = "${substr(lower(replace(var.name, "_", "-")), 0, 25)}-quarantine-"

  # Server access logs of the created bucket go to quarantine_access_log_bucket, else to a bucket created here.
  create_access_log_bucket = var.create_quarantine_bucket && var.quarantine_access_log_bucket == null
  access_log_bucket_prefix = "${substr(lower(replace(var.name, "_", "-")), 0, 24)}-access-logs-"
  access_log_bucket        = local.create_access_log_bucket ? aws_s3_bucket.access_logs[0].id : var.quarantine_access_log_bucket
}

################################################################################
# Quarantine bucket for records no schema accepts
################################################################################

resource "aws_s3_bucket" "quarantine" {
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a bucket and a provider in a second region, which this module does not manage: give quarantine_bucket_arn a replicated bucket of your own instead.
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

# Quarantined records wait for someone to read the reason and replay them: current objects are kept until
# quarantine_expiration_days (null: until deleted by hand); overwritten or deleted versions for
# quarantine_noncurrent_version_expiration_days.
resource "aws_s3_bucket_lifecycle_configuration" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket = aws_s3_bucket.quarantine[0].id

  rule {
    id     = "noncurrent-versions-and-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.quarantine_noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  dynamic "rule" {
    for_each = var.quarantine_expiration_days == null ? [] : [var.quarantine_expiration_days]

    content {
      id     = "quarantined-records"
      status = "Enabled"

      filter {
        prefix = "${var.quarantine_prefix}/"
      }

      expiration {
        days = rule.value
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # Lifecycle rules apply to versions only once versioning is on.
  depends_on = [aws_s3_bucket_versioning.quarantine]
}

# Each quarantined object is an EventBridge event (`Object Created` from aws.s3), which a rule of yours may
# route to the on-call; the `Quarantined` alarm (alarms.tf) counts them too.
resource "aws_s3_bucket_notification" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket      = aws_s3_bucket.quarantine[0].id
  eventbridge = true
}

resource "aws_s3_bucket_logging" "quarantine" {
  count = var.create_quarantine_bucket ? 1 : 0

  bucket        = aws_s3_bucket.quarantine[0].id
  target_bucket = local.access_log_bucket
  target_prefix = var.quarantine_access_log_prefix
}

################################################################################
# Access log bucket of the quarantine bucket (unless quarantine_access_log_bucket is given)
################################################################################

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access log bucket: logging its own accesses into itself would log every delivery, without end.
  #checkov:skip=CKV_AWS_144:Cross-region replication needs a bucket and a provider in a second region, which this module does not manage: give quarantine_access_log_bucket a replicated bucket instead.
  #checkov:skip=CKV_AWS_145:S3 server access logs can only be delivered to a bucket encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV2_AWS_62:Nothing acts on a log delivery: access logs are read when investigating, not as they arrive.
  count = local.create_access_log_bucket ? 1 : 0

  bucket_prefix = local.access_log_bucket_prefix
  force_destroy = var.quarantine_bucket_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

# With BucketOwnerEnforced, S3 delivers access logs under this policy (not an ACL): the logging service, for
# buckets of this account only.
resource "aws_s3_bucket_policy" "access_logs" {
  count = local.create_access_log_bucket ? 1 : 0

  bucket = aws_s3_bucket.access_logs[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "S3ServerAccessLogsDelivery"
        Effect    = "Allow"
        Principal = { Service = "logging.s3.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.access_logs[0].arn}/*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.access_logs[0].arn, "${aws_s3_bucket.access_logs[0].arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
