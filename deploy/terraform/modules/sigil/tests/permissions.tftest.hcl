# Plans the module offline (`terraform test`, no AWS account or network needed) and checks what it
# would deploy: the IAM statements of the optional features with their exact resources, the
# function's environment, and the security settings of the created queue and bucket.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # Nothing may reach AWS: fail at once rather than retry.
  max_retries = 1
}

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "111111111111"
    arn        = "arn:aws:iam::111111111111:user/test"
    user_id    = "test"
  }
}

override_data {
  target = data.aws_region.current
  values = {
    name = "eu-west-1"
  }
}

# Known-at-plan stand-ins for the attributes AWS computes, so that the plan renders the policy and
# the environment in full.
# Also keeps the provider from calling Kinesis DescribeLimits while planning the stream.
override_resource {
  target          = aws_kinesis_stream.this
  override_during = plan
  values = {
    arn = "arn:aws:kinesis:eu-west-1:111111111111:stream/sigil"
  }
}

override_resource {
  target          = aws_sns_topic.this
  override_during = plan
  values = {
    arn = "arn:aws:sns:eu-west-1:111111111111:sigil-alerts"
  }
}

override_resource {
  target          = aws_sqs_queue.dlq
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:111111111111:sigil-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/111111111111/sigil-dlq"
  }
}

override_resource {
  target          = aws_s3_bucket.quarantine
  override_during = plan
  values = {
    arn    = "arn:aws:s3:::sigil-quarantine-123"
    bucket = "sigil-quarantine-123"
    id     = "sigil-quarantine-123"
  }
}

variables {
  name = "sigil"
  # Any existing file: a plan only hashes the package.
  package_path = "README.md"
}

run "defaults_create_encrypted_dlq_and_private_quarantine_bucket" {
  command = plan

  assert {
    condition     = length(aws_sqs_queue.dlq) == 1 && aws_sqs_queue.dlq[0].sqs_managed_sse_enabled == true
    error_message = "The dead-letter queue must be created, with SSE-SQS"
  }

  assert {
    condition     = aws_sqs_queue.dlq[0].name == "sigil-dlq"
    error_message = "The dead-letter queue must default to <name>-dlq"
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.quarantine[0].block_public_acls,
      aws_s3_bucket_public_access_block.quarantine[0].block_public_policy,
      aws_s3_bucket_public_access_block.quarantine[0].ignore_public_acls,
      aws_s3_bucket_public_access_block.quarantine[0].restrict_public_buckets,
    ])
    error_message = "The quarantine bucket must block every kind of public access"
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.quarantine[0].versioning_configuration).status == "Enabled"
    error_message = "The quarantine bucket must be versioned"
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.quarantine[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "The quarantine bucket must be encrypted (SSE-S3 without a key)"
  }

  assert {
    condition     = aws_s3_bucket.quarantine[0].bucket_prefix == "sigil-quarantine-"
    error_message = "The quarantine bucket name must default to a unique name starting with <name>-quarantine-"
  }

  assert {
    condition = jsonencode(one(aws_lambda_function.this.environment).variables) == jsonencode({
      SIGIL_ALERTS_TOPIC_ARN = "arn:aws:sns:eu-west-1:111111111111:sigil-alerts"
      SIGIL_DLQ_URL          = "https://sqs.eu-west-1.amazonaws.com/111111111111/sigil-dlq"
      SIGIL_QUARANTINE_URL   = "s3://sigil-quarantine-123/quarantine"
      SIGIL_SECRETS_PREFIX   = "/sigil/outputs"
    })
    error_message = "The function must get the topic, the created dead-letter queue and quarantine bucket, and the default secrets prefix"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.optional.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      SendDeadLetters           = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:111111111111:sigil-dlq"]]
      WriteQuarantine           = [["s3:PutObject"], ["arn:aws:s3:::sigil-quarantine-123/quarantine/*"]]
      ReadSecretsManagerSecrets = [["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:eu-west-1:111111111111:secret:/sigil/outputs/*"]]
      ReadSsmParameters         = [["ssm:GetParameter"], ["arn:aws:ssm:eu-west-1:111111111111:parameter/sigil/outputs/*"]]
    })
    error_message = "By default the role may send to its dead-letter queue, write under quarantine/ of its bucket and read secrets under /sigil/outputs, nothing more"
  }

  assert {
    condition     = length(aws_lambda_permission.s3) == 0 && length(aws_lambda_event_source_mapping.sqs) == 0
    error_message = "No S3 or SQS source is wired by default"
  }
}

run "existing_resources_and_sources_get_exactly_scoped_permissions" {
  command = plan

  variables {
    create_dlq               = false
    dlq_arn                  = "arn:aws:sqs:eu-west-1:222222222222:alerts-dlq"
    create_quarantine_bucket = false
    quarantine_bucket_arn    = "arn:aws:s3:::central-quarantine"
    quarantine_prefix        = "sigil/quarantine"
    quarantine_kms_key_arn   = "arn:aws:kms:eu-west-1:111111111111:key/quarantine"
    s3_sources = [
      { bucket_arn = "arn:aws:s3:::cloudtrail-logs", prefixes = ["AWSLogs/", "elb/"] },
      { bucket_arn = "arn:aws:s3:::vpc.flow.logs", account_id = "333333333333" },
    ]
    sqs_source_queue_arns = [
      "arn:aws:sqs:eu-west-1:111111111111:logs-a",
      "arn:aws:sqs:eu-west-1:111111111111:logs-b",
    ]
    source_kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/sources"]
    secrets_prefix      = "/prod/sigil"
    secrets_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/secrets"
  }

  assert {
    condition = toset([for s in jsondecode(data.aws_iam_policy_document.optional.json).Statement : s.Sid]) == toset([
      "SendDeadLetters", "WriteQuarantine", "EncryptQuarantine", "ReadSourceObjects", "ReadSourceQueues",
      "DecryptSources", "ReadSecretsManagerSecrets", "ReadSsmParameters", "DecryptSecrets",
    ])
    error_message = "Every configured feature must get its statement, and nothing else"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(data.aws_iam_policy_document.optional.json).Statement :
      s.Effect == "Allow" && !contains(flatten([s.Resource]), "*") && alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])
    ])
    error_message = "No optional statement may use a wildcard action or the \"*\" resource"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.optional.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      SendDeadLetters           = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:222222222222:alerts-dlq"]]
      WriteQuarantine           = [["s3:PutObject"], ["arn:aws:s3:::central-quarantine/sigil/quarantine/*"]]
      EncryptQuarantine         = [["kms:GenerateDataKey"], ["arn:aws:kms:eu-west-1:111111111111:key/quarantine"]]
      ReadSourceObjects         = [["s3:GetObject", "s3:GetObjectVersion"], ["arn:aws:s3:::cloudtrail-logs/AWSLogs/*", "arn:aws:s3:::cloudtrail-logs/elb/*", "arn:aws:s3:::vpc.flow.logs/*"]]
      ReadSourceQueues          = [["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], ["arn:aws:sqs:eu-west-1:111111111111:logs-a", "arn:aws:sqs:eu-west-1:111111111111:logs-b"]]
      DecryptSources            = [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:111111111111:key/sources"]]
      ReadSecretsManagerSecrets = [["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:eu-west-1:111111111111:secret:/prod/sigil/*"]]
      ReadSsmParameters         = [["ssm:GetParameter"], ["arn:aws:ssm:eu-west-1:111111111111:parameter/prod/sigil/*"]]
      DecryptSecrets            = [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:111111111111:key/secrets"]]
    })
    error_message = "Each optional statement must grant exactly its actions on exactly its resources"
  }

  assert {
    condition     = length(aws_sqs_queue.dlq) == 0 && length(aws_s3_bucket.quarantine) == 0
    error_message = "Nothing is created when existing resources are given"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_DLQ_URL"] == "https://sqs.eu-west-1.amazonaws.com/222222222222/alerts-dlq"
    error_message = "SIGIL_DLQ_URL must be the URL of the existing queue"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_QUARANTINE_URL"] == "s3://central-quarantine/sigil/quarantine"
    error_message = "SIGIL_QUARANTINE_URL must be s3://<bucket>/<prefix>"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_SECRETS_PREFIX"] == "/prod/sigil"
    error_message = "SIGIL_SECRETS_PREFIX must be the secrets prefix"
  }

  assert {
    condition = jsonencode({
      for arn, p in aws_lambda_permission.s3 : arn => [p.principal, p.action, p.source_arn, p.source_account]
      }) == jsonencode({
      "arn:aws:s3:::cloudtrail-logs" = ["s3.amazonaws.com", "lambda:InvokeFunction", "arn:aws:s3:::cloudtrail-logs", "111111111111"]
      "arn:aws:s3:::vpc.flow.logs"   = ["s3.amazonaws.com", "lambda:InvokeFunction", "arn:aws:s3:::vpc.flow.logs", "333333333333"]
    })
    error_message = "Each source bucket, and only it, may invoke the function, from its own account"
  }

  assert {
    condition = alltrue([
      for arn, m in aws_lambda_event_source_mapping.sqs : m.event_source_arn == arn && m.function_response_types == toset(["ReportBatchItemFailures"])
    ]) && length(aws_lambda_event_source_mapping.sqs) == 2
    error_message = "Each source queue must get a mapping that reports failed messages individually"
  }
}

run "no_optional_features_no_optional_permissions" {
  command = plan

  variables {
    create_dlq               = false
    create_quarantine_bucket = false
    secrets_prefix           = null
  }

  assert {
    condition     = length(try(jsondecode(data.aws_iam_policy_document.optional.json).Statement, [])) == 0
    error_message = "Without dead-letter queue, quarantine, sources or secrets the role gets no extra permission"
  }

  assert {
    condition     = jsonencode(keys(one(aws_lambda_function.this.environment).variables)) == jsonencode(["SIGIL_ALERTS_TOPIC_ARN"])
    error_message = "Only the topic is configured"
  }
}
