# Plans the module offline (`terraform test`, no AWS account or network needed) and checks what it
# would deploy: the IAM statements of the optional features with their exact resources, the
# function's environment, the security settings of the created queue, bucket and ledger table, and
# the validation of the ARNs given for alert outputs and the ledger.

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
  target          = aws_kms_key.this
  override_during = plan
  values = {
    arn = "arn:aws:kms:eu-west-1:111111111111:key/sigil"
  }
}

override_resource {
  target          = aws_sqs_queue.failed_events
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:111111111111:sigil-failed-events"
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

override_resource {
  target          = aws_dynamodb_table.ledger
  override_during = plan
  values = {
    arn = "arn:aws:dynamodb:eu-west-1:111111111111:table/sigil-delivery-ledger"
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
      SIGIL_ALERTS_TOPIC_ARN  = "arn:aws:sns:eu-west-1:111111111111:sigil-alerts"
      SIGIL_DLQ_URL           = "https://sqs.eu-west-1.amazonaws.com/111111111111/sigil-dlq"
      SIGIL_METRICS_NAMESPACE = "Sigil"
      SIGIL_QUARANTINE_URL    = "s3://sigil-quarantine-123/quarantine"
      SIGIL_SECRETS_PREFIX    = "/sigil/outputs"
    })
    error_message = "The function must get the topic, the metrics namespace, the created dead-letter queue and quarantine bucket, and the default secrets prefix"
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

  assert {
    condition     = length(try(jsondecode(data.aws_iam_policy_document.outputs.json).Statement, [])) == 0
    error_message = "By default the role may deliver to no output other than the alerts topic, and has no ledger"
  }

  assert {
    condition     = length(aws_dynamodb_table.ledger) == 0
    error_message = "No delivery ledger table is created by default"
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
    condition     = jsonencode(keys(one(aws_lambda_function.this.environment).variables)) == jsonencode(["SIGIL_ALERTS_TOPIC_ARN", "SIGIL_METRICS_NAMESPACE"])
    error_message = "Only the topic (and the metrics namespace, always set) is configured"
  }
}

################################################################################
# Alert outputs
################################################################################

run "alert_outputs_grant_exactly_the_runtime_calls_on_exactly_the_given_resources" {
  command = plan

  variables {
    create_dlq               = false
    create_quarantine_bucket = false
    secrets_prefix           = null
    alert_outputs = {
      sns_topic_arns = [
        "arn:aws:sns:eu-west-1:111111111111:secops",
        "arn:aws:sns:us-east-1:222222222222:soc.fifo",
      ]
      sqs_queue_arns = ["arn:aws:sqs:eu-west-1:111111111111:alerts"]
      s3_buckets = [
        { bucket_arn = "arn:aws:s3:::alerts-archive" },
        { bucket_arn = "arn:aws:s3:::alerts-archive", prefix = "ocsf/" },
        { bucket_arn = "arn:aws:s3:::whole-bucket", prefix = "" },
      ]
      firehose_delivery_stream_arns = ["arn:aws:firehose:eu-west-1:111111111111:deliverystream/alerts"]
      lambda_function_arns = [
        "arn:aws:lambda:eu-west-1:111111111111:function:triage",
        "arn:aws:lambda:eu-west-1:111111111111:function:enrich:live",
      ]
      cloudwatch_log_group_arns = [
        "arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/alerts",
        "arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/audit:*",
      ]
      kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]
    }
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      PublishOutputTopics = [["sns:Publish"], ["arn:aws:sns:eu-west-1:111111111111:secops", "arn:aws:sns:us-east-1:222222222222:soc.fifo"]]
      SendOutputQueues    = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:111111111111:alerts"]]
      WriteOutputObjects  = [["s3:PutObject"], ["arn:aws:s3:::alerts-archive/alerts/*", "arn:aws:s3:::alerts-archive/ocsf/*", "arn:aws:s3:::whole-bucket/*"]]
      PutOutputRecords    = [["firehose:PutRecord"], ["arn:aws:firehose:eu-west-1:111111111111:deliverystream/alerts"]]
      InvokeOutputFunctions = [["lambda:InvokeFunction"], [
        "arn:aws:lambda:eu-west-1:111111111111:function:enrich:live",
        "arn:aws:lambda:eu-west-1:111111111111:function:triage",
      ]]
      WriteOutputLogs = [["logs:CreateLogStream", "logs:PutLogEvents"], [
        "arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/alerts:*",
        "arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/audit:*",
      ]]
      EncryptOutputs               = [["kms:GenerateDataKey"], ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]]
      EncryptOutputTopicsAndQueues = [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]]
    })
    error_message = "Each output kind must get exactly the calls its runtime output makes, on exactly the given resources"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement :
      s.Effect == "Allow" && !contains(flatten([s.Resource]), "*") && alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])
    ])
    error_message = "No output statement may use a wildcard action or the \"*\" resource"
  }

  assert {
    condition     = length(try(jsondecode(data.aws_iam_policy_document.optional.json).Statement, [])) == 0
    error_message = "Alert outputs add nothing to the other optional features' statements"
  }

  assert {
    condition     = jsonencode(keys(one(aws_lambda_function.this.environment).variables)) == jsonencode(["SIGIL_ALERTS_TOPIC_ARN", "SIGIL_METRICS_NAMESPACE"])
    error_message = "Alert outputs change no environment variable (outputs.json names the resources)"
  }
}

run "alert_output_s3_key_needs_no_decrypt" {
  command = plan

  variables {
    alert_outputs = {
      s3_buckets   = [{ bucket_arn = "arn:aws:s3:::alerts-archive", prefix = "sigil/alerts/" }]
      kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/archive"]
    }
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      WriteOutputObjects = [["s3:PutObject"], ["arn:aws:s3:::alerts-archive/sigil/alerts/*"]]
      EncryptOutputs     = [["kms:GenerateDataKey"], ["arn:aws:kms:eu-west-1:111111111111:key/archive"]]
    })
    error_message = "An S3 output alone gets s3:PutObject under its prefix and kms:GenerateDataKey, no kms:Decrypt"
  }
}

run "alert_output_sns_topic_arn_rejects_a_name" {
  command = plan

  variables {
    alert_outputs = { sns_topic_arns = ["secops"] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_sqs_queue_arn_rejects_a_url" {
  command = plan

  variables {
    alert_outputs = { sqs_queue_arns = ["https://sqs.eu-west-1.amazonaws.com/111111111111/alerts"] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_s3_bucket_arn_rejects_a_key" {
  command = plan

  variables {
    alert_outputs = { s3_buckets = [{ bucket_arn = "arn:aws:s3:::alerts-archive/alerts/*" }] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_s3_prefix_rejects_a_wildcard" {
  command = plan

  variables {
    alert_outputs = { s3_buckets = [{ bucket_arn = "arn:aws:s3:::alerts-archive", prefix = "*" }] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_firehose_arn_rejects_a_kinesis_stream" {
  command = plan

  variables {
    alert_outputs = { firehose_delivery_stream_arns = ["arn:aws:kinesis:eu-west-1:111111111111:stream/alerts"] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_lambda_arn_rejects_a_wildcard" {
  command = plan

  variables {
    alert_outputs = { lambda_function_arns = ["arn:aws:lambda:eu-west-1:111111111111:function:*"] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_log_group_arn_rejects_a_name" {
  command = plan

  variables {
    alert_outputs = { cloudwatch_log_group_arns = ["/sigil/alerts"] }
  }

  expect_failures = [var.alert_outputs]
}

run "alert_output_kms_key_rejects_an_alias" {
  command = plan

  variables {
    alert_outputs = { kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:alias/outputs"] }
  }

  expect_failures = [var.alert_outputs]
}

################################################################################
# Outputs declared once: SIGIL_OUTPUTS_OVERRIDE and the permissions derived from the settings
################################################################################

run "outputs_set_the_override_and_grant_exactly_the_resources_their_settings_name" {
  command = plan

  variables {
    create_dlq               = false
    create_quarantine_bucket = false
    outputs = {
      "aws-sns:secops"            = { topic_arn = "arn:aws:sns:us-east-1:222222222222:secops", format = "ocsf" }
      "aws-sqs:triage"            = { queue_url = "https://sqs.eu-west-1.amazonaws.com/111111111111/triage" }
      "aws-sqs:legacy"            = { queue_url = "https://eu-central-1.queue.amazonaws.com/222222222222/legacy.fifo" }
      "aws-s3:archive"            = { bucket = "alerts-archive" }
      "aws-s3:ocsf"               = { bucket = "alerts-archive", prefix = "ocsf/", format = "ocsf" }
      "aws-firehose:lake"         = { stream = "sigil-alerts" }
      "aws-lambda:triage"         = { function = "triage" }
      "aws-lambda:pinned"         = { function = "pinned:7" }
      "aws-lambda:enrich"         = { function = "arn:aws:lambda:us-east-1:222222222222:function:enrich", qualifier = "live", invocation_type = "RequestResponse" }
      "aws-cloudwatch-log:alerts" = { log_group = "/sigil/alerts", log_stream = "sigil" }
      "slack:secops"              = {}
      "jira:secops"               = { project = "SEC", issue_type = "Bug", labels = ["detection"], secret = "jira/cloud" }
    }
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      PublishOutputTopics = [["sns:Publish"], ["arn:aws:sns:us-east-1:222222222222:secops"]]
      SendOutputQueues = [["sqs:SendMessage"], [
        "arn:aws:sqs:eu-central-1:222222222222:legacy.fifo",
        "arn:aws:sqs:eu-west-1:111111111111:triage",
      ]]
      WriteOutputObjects = [["s3:PutObject"], ["arn:aws:s3:::alerts-archive/alerts/*", "arn:aws:s3:::alerts-archive/ocsf/*"]]
      PutOutputRecords   = [["firehose:PutRecord"], ["arn:aws:firehose:eu-west-1:111111111111:deliverystream/sigil-alerts"]]
      InvokeOutputFunctions = [["lambda:InvokeFunction"], [
        "arn:aws:lambda:eu-west-1:111111111111:function:pinned:7",
        "arn:aws:lambda:eu-west-1:111111111111:function:triage",
        "arn:aws:lambda:us-east-1:222222222222:function:enrich:live",
      ]]
      WriteOutputLogs = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/alerts:*"]]
    })
    error_message = "Each AWS output of outputs must get exactly the calls of its runtime output, on exactly the resource its settings name (names in the function's account and region, the S3 prefix defaulting to alerts/, the Lambda qualifier in the ARN), and the other outputs nothing"
  }

  assert {
    condition = alltrue([
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement :
      s.Effect == "Allow" && !contains(flatten([s.Resource]), "*") && alltrue([for a in flatten([s.Action]) : !strcontains(a, "*")])
    ])
    error_message = "No output statement may use a wildcard action or the \"*\" resource"
  }

  assert {
    condition = one(aws_lambda_function.this.environment).variables["SIGIL_OUTPUTS_OVERRIDE"] == jsonencode({
      "aws-sns:secops"            = { topic_arn = "arn:aws:sns:us-east-1:222222222222:secops", format = "ocsf" }
      "aws-sqs:triage"            = { queue_url = "https://sqs.eu-west-1.amazonaws.com/111111111111/triage" }
      "aws-sqs:legacy"            = { queue_url = "https://eu-central-1.queue.amazonaws.com/222222222222/legacy.fifo" }
      "aws-s3:archive"            = { bucket = "alerts-archive" }
      "aws-s3:ocsf"               = { bucket = "alerts-archive", prefix = "ocsf/", format = "ocsf" }
      "aws-firehose:lake"         = { stream = "sigil-alerts" }
      "aws-lambda:triage"         = { function = "triage" }
      "aws-lambda:pinned"         = { function = "pinned:7" }
      "aws-lambda:enrich"         = { function = "arn:aws:lambda:us-east-1:222222222222:function:enrich", qualifier = "live", invocation_type = "RequestResponse" }
      "aws-cloudwatch-log:alerts" = { log_group = "/sigil/alerts", log_stream = "sigil" }
      "slack:secops"              = {}
      "jira:secops"               = { project = "SEC", issue_type = "Bug", labels = ["detection"], secret = "jira/cloud" }
    })
    error_message = "SIGIL_OUTPUTS_OVERRIDE must be the outputs map as given, nothing added (the S3 default prefix is the runtime's own)"
  }

  assert {
    condition     = jsonencode(keys(one(aws_lambda_function.this.environment).variables)) == jsonencode(["SIGIL_ALERTS_TOPIC_ARN", "SIGIL_METRICS_NAMESPACE", "SIGIL_OUTPUTS_OVERRIDE", "SIGIL_SECRETS_PREFIX"])
    error_message = "outputs adds SIGIL_OUTPUTS_OVERRIDE and nothing else"
  }

  assert {
    condition = toset([for s in jsondecode(data.aws_iam_policy_document.optional.json).Statement : s.Sid]) == toset([
      "ReadSecretsManagerSecrets", "ReadSsmParameters",
    ])
    error_message = "The Slack and Jira secrets are covered by the secrets prefix grants, nothing is added for them"
  }
}

run "outputs_merge_with_alert_outputs_without_duplicates" {
  command = plan

  variables {
    create_dlq               = false
    create_quarantine_bucket = false
    secrets_prefix           = null
    outputs = {
      "aws-sqs:triage"            = { queue_url = "https://sqs.eu-west-1.amazonaws.com/111111111111/triage" }
      "aws-s3:archive"            = { bucket = "alerts-archive", prefix = "sigil/" }
      "aws-cloudwatch-log:alerts" = { log_group = "/sigil/alerts" }
    }
    alert_outputs = {
      sqs_queue_arns            = ["arn:aws:sqs:eu-west-1:111111111111:triage"]
      s3_buckets                = [{ bucket_arn = "arn:aws:s3:::alerts-archive", prefix = "sigil/" }, { bucket_arn = "arn:aws:s3:::other" }]
      cloudwatch_log_group_arns = ["arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/alerts:*"]
      kms_key_arns              = ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]
    }
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      SendOutputQueues             = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:111111111111:triage"]]
      WriteOutputObjects           = [["s3:PutObject"], ["arn:aws:s3:::alerts-archive/sigil/*", "arn:aws:s3:::other/alerts/*"]]
      WriteOutputLogs              = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:eu-west-1:111111111111:log-group:/sigil/alerts:*"]]
      EncryptOutputs               = [["kms:GenerateDataKey"], ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]]
      EncryptOutputTopicsAndQueues = [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:111111111111:key/outputs"]]
    })
    error_message = "A resource named in both outputs and alert_outputs must be granted once; alert_outputs keeps adding its own (and kms:Decrypt counts the queues of outputs)"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_OUTPUTS_OVERRIDE"] == "{\"aws-cloudwatch-log:alerts\":{\"log_group\":\"/sigil/alerts\"},\"aws-s3:archive\":{\"bucket\":\"alerts-archive\",\"prefix\":\"sigil/\"},\"aws-sqs:triage\":{\"queue_url\":\"https://sqs.eu-west-1.amazonaws.com/111111111111/triage\"}}"
    error_message = "SIGIL_OUTPUTS_OVERRIDE must be the JSON object {descriptor: settings}"
  }
}

# Settings unknown until apply (a queue created in the same configuration): the variable's checks wait for
# the values, and the plan still decides the statements and the environment variable's presence.
run "outputs_accept_values_known_only_after_apply" {
  command = plan

  providers = {
    aws = aws
  }

  module {
    source = "./tests/unknown_values"
  }

  override_data {
    target = module.sigil.data.aws_caller_identity.current
    values = {
      account_id = "111111111111"
      arn        = "arn:aws:iam::111111111111:user/test"
      user_id    = "test"
    }
  }

  override_data {
    target = module.sigil.data.aws_region.current
    values = {
      name = "eu-west-1"
    }
  }

  override_resource {
    target          = module.sigil.aws_kinesis_stream.this
    override_during = plan
    values = {
      arn = "arn:aws:kinesis:eu-west-1:111111111111:stream/sigil"
    }
  }
}

run "outputs_reject_an_unknown_service" {
  command = plan

  variables {
    outputs = { "kafka:alerts" = {} }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_short_service_name" {
  command = plan

  variables {
    outputs = { "sqs:triage" = { queue_url = "https://sqs.eu-west-1.amazonaws.com/111111111111/triage" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_descriptor_without_name" {
  command = plan

  variables {
    outputs = { "slack" = {} }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_the_module_topic" {
  command = plan

  variables {
    outputs = { "aws-sns:alerts" = { topic_arn = "arn:aws:sns:eu-west-1:111111111111:other" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_missing_required_setting" {
  command = plan

  variables {
    outputs = { "aws-s3:archive" = { prefix = "alerts/" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_jira_output_without_project" {
  command = plan

  variables {
    outputs = { "jira:secops" = { issue_type = "Bug" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_an_unknown_setting" {
  command = plan

  variables {
    outputs = { "aws-s3:archive" = { bucket = "alerts-archive", prefx = "sigil/" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_setting_of_another_service" {
  command = plan

  variables {
    outputs = { "slack:secops" = { format = "ocsf" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_settings_that_are_not_an_object" {
  command = plan

  variables {
    outputs = { "slack:secops" = "secops" }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_value_that_is_not_a_string" {
  command = plan

  variables {
    outputs = { "jira:secops" = { project = "SEC", labels = "detection" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_an_unknown_format" {
  command = plan

  variables {
    outputs = { "aws-sns:secops" = { topic_arn = "arn:aws:sns:eu-west-1:111111111111:secops", format = "json" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_queue_arn_for_a_queue_url" {
  command = plan

  variables {
    outputs = { "aws-sqs:triage" = { queue_url = "arn:aws:sqs:eu-west-1:111111111111:triage" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_firehose_stream_arn" {
  command = plan

  variables {
    outputs = { "aws-firehose:lake" = { stream = "arn:aws:firehose:eu-west-1:111111111111:deliverystream/alerts" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_two_different_lambda_qualifiers" {
  command = plan

  variables {
    outputs = { "aws-lambda:triage" = { function = "triage:blue", qualifier = "green" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_reject_a_secret_outside_the_prefix" {
  command = plan

  variables {
    outputs = { "webhook:soar" = { secret = "/elsewhere/soar" } }
  }

  expect_failures = [var.outputs]
}

run "outputs_with_secrets_need_the_secrets_prefix" {
  command = plan

  variables {
    secrets_prefix = null
    outputs        = { "slack:secops" = {} }
  }

  expect_failures = [aws_lambda_function.this]
}

################################################################################
# Delivery ledger
################################################################################

run "delivery_ledger_created_with_runtime_schema_ttl_pitr_and_sse" {
  command = plan

  variables {
    create_delivery_ledger = true
  }

  assert {
    condition = alltrue([
      aws_dynamodb_table.ledger[0].name == "sigil-delivery-ledger",
      aws_dynamodb_table.ledger[0].billing_mode == "PAY_PER_REQUEST",
      aws_dynamodb_table.ledger[0].hash_key == "alert_id",
      aws_dynamodb_table.ledger[0].range_key == "output",
    ])
    error_message = "The ledger must be an on-demand table <name>-delivery-ledger keyed by (alert_id, output)"
  }

  assert {
    condition     = jsonencode(sort([for a in aws_dynamodb_table.ledger[0].attribute : "${a.name}:${a.type}"])) == jsonencode(["alert_id:S", "output:S"])
    error_message = "Both keys must be strings, and no other attribute declared"
  }

  assert {
    condition     = one(aws_dynamodb_table.ledger[0].ttl).attribute_name == "expires_at" && one(aws_dynamodb_table.ledger[0].ttl).enabled
    error_message = "TTL must be enabled on expires_at"
  }

  assert {
    condition     = one(aws_dynamodb_table.ledger[0].point_in_time_recovery).enabled
    error_message = "Point-in-time recovery must be enabled by default"
  }

  assert {
    condition     = one(aws_dynamodb_table.ledger[0].server_side_encryption).enabled
    error_message = "The table must be encrypted with a KMS key (the AWS managed aws/dynamodb by default)"
  }

  assert {
    condition     = aws_dynamodb_table.ledger[0].deletion_protection_enabled
    error_message = "The table must be protected from deletion by default"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_LEDGER_TABLE"] == "sigil-delivery-ledger"
    error_message = "SIGIL_LEDGER_TABLE must be the created table's name"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      ReadWriteDeliveryLedger = [["dynamodb:GetItem", "dynamodb:PutItem"], ["arn:aws:dynamodb:eu-west-1:111111111111:table/sigil-delivery-ledger"]]
    })
    error_message = "The role may get and put items of the ledger table, nothing more"
  }

  assert {
    condition     = output.dynamodb_table_ledger_name == "sigil-delivery-ledger" && output.dynamodb_table_ledger_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/sigil-delivery-ledger"
    error_message = "The ledger table's name and ARN must be outputs"
  }
}

run "delivery_ledger_with_customer_key_and_settings" {
  command = plan

  variables {
    create_delivery_ledger                         = true
    delivery_ledger_table_name                     = "alerts-ledger"
    delivery_ledger_kms_key_arn                    = "arn:aws:kms:eu-west-1:111111111111:key/ledger"
    delivery_ledger_point_in_time_recovery_enabled = false
    delivery_ledger_deletion_protection_enabled    = false
  }

  assert {
    condition     = one(aws_dynamodb_table.ledger[0].server_side_encryption).enabled && one(aws_dynamodb_table.ledger[0].server_side_encryption).kms_key_arn == "arn:aws:kms:eu-west-1:111111111111:key/ledger"
    error_message = "The table must be encrypted with the given key"
  }

  assert {
    condition     = !one(aws_dynamodb_table.ledger[0].point_in_time_recovery).enabled && !aws_dynamodb_table.ledger[0].deletion_protection_enabled
    error_message = "Point-in-time recovery and deletion protection follow their variables"
  }

  assert {
    condition     = aws_dynamodb_table.ledger[0].name == "alerts-ledger" && one(aws_lambda_function.this.environment).variables["SIGIL_LEDGER_TABLE"] == "alerts-ledger"
    error_message = "The table and SIGIL_LEDGER_TABLE must use the given name"
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : [s.Sid, s.Action, s.Resource, s.Condition] if s.Sid == "DecryptDeliveryLedger"
      ]) == jsonencode([
      ["DecryptDeliveryLedger", "kms:Decrypt", "arn:aws:kms:eu-west-1:111111111111:key/ledger", { StringEquals = { "kms:ViaService" = "dynamodb.eu-west-1.amazonaws.com" } }],
    ])
    error_message = "The role may decrypt with the ledger's key, through DynamoDB in its region only"
  }
}

run "existing_delivery_ledger_adds_only_policy_and_environment" {
  command = plan

  variables {
    delivery_ledger_table_arn = "arn:aws:dynamodb:eu-west-1:111111111111:table/shared-ledger"
  }

  assert {
    condition     = length(aws_dynamodb_table.ledger) == 0
    error_message = "No table is created for an existing ledger"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_LEDGER_TABLE"] == "shared-ledger"
    error_message = "SIGIL_LEDGER_TABLE must be the existing table's name"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.outputs.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      ReadWriteDeliveryLedger = [["dynamodb:GetItem", "dynamodb:PutItem"], ["arn:aws:dynamodb:eu-west-1:111111111111:table/shared-ledger"]]
    })
    error_message = "An existing ledger adds only get and put on that table"
  }

  assert {
    condition     = output.dynamodb_table_ledger_name == "shared-ledger" && output.dynamodb_table_ledger_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/shared-ledger"
    error_message = "The outputs must name the existing table"
  }
}

run "existing_delivery_ledger_in_another_region_is_refused" {
  command = plan

  variables {
    delivery_ledger_table_arn = "arn:aws:dynamodb:us-east-1:111111111111:table/shared-ledger"
  }

  expect_failures = [aws_lambda_function.this]
}

run "delivery_ledger_arn_rejects_a_name" {
  command = plan

  variables {
    delivery_ledger_table_arn = "shared-ledger"
  }

  expect_failures = [var.delivery_ledger_table_arn]
}

run "delivery_ledger_key_rejects_an_alias" {
  command = plan

  variables {
    create_delivery_ledger      = true
    delivery_ledger_kms_key_arn = "alias/ledger"
  }

  expect_failures = [var.delivery_ledger_kms_key_arn]
}
