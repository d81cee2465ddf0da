# Plans the module offline (`terraform test`) and checks the hardening checkov asks for and the wiring of
# the sources and of the `live` alias: X-Ray tracing and its grant, the module's KMS key on the environment
# and the log group, the failed-events queue as the function's dead-letter queue and the Kinesis mapping's
# on-failure destination, the quarantine bucket's lifecycle, access logs and notifications, the opt-in VPC,
# the SNS, CloudWatch Logs and EventBridge sources, and every trigger invoking the alias.

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

# Known-at-plan stand-ins for the attributes AWS computes.
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

override_resource {
  target          = aws_s3_bucket.access_logs
  override_during = plan
  values = {
    arn    = "arn:aws:s3:::sigil-access-logs-123"
    bucket = "sigil-access-logs-123"
    id     = "sigil-access-logs-123"
  }
}

override_resource {
  target          = aws_cloudwatch_log_group.this
  override_during = plan
  values = {
    arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/sigil"
  }
}

override_resource {
  target          = aws_kms_key.this
  override_during = plan
  values = {
    arn    = "arn:aws:kms:eu-west-1:111111111111:key/sigil"
    key_id = "sigil"
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
  target          = aws_lambda_function.this
  override_during = plan
  values = {
    arn     = "arn:aws:lambda:eu-west-1:111111111111:function:sigil"
    version = "5"
  }
}

override_resource {
  target          = aws_lambda_alias.live
  override_during = plan
  values = {
    arn = "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live"
  }
}

override_resource {
  target          = aws_cloudwatch_event_rule.sources
  override_during = plan
  values = {
    arn = "arn:aws:events:eu-west-1:111111111111:rule/sigil-guardduty"
  }
}

variables {
  name = "sigil"
  # Any existing file: a plan only hashes the package.
  package_path = "README.md"
}

run "defaults_trace_encrypt_and_keep_failed_events" {
  command = plan

  assert {
    condition     = one(aws_lambda_function.this.tracing_config).mode == "Active"
    error_message = "The function must be traced by X-Ray (Active) by default"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.lambda_service.json).Statement : s.Sid => [sort(flatten([s.Action])), sort(flatten([s.Resource]))]
      }) == jsonencode({
      WriteTraces        = [["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"]]
      DecryptEnvironment = [["kms:Decrypt"], ["arn:aws:kms:eu-west-1:111111111111:key/sigil"]]
      SendFailedEvents   = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:111111111111:sigil-failed-events"]]
    })
    error_message = "The role may write traces, decrypt the environment with the module's key and send to the failed-events queue, nothing more"
  }

  assert {
    condition     = length(aws_kms_key.this) == 1 && aws_kms_key.this[0].enable_key_rotation == true
    error_message = "The module must create its KMS key, rotated"
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_kms_key.this[0].policy).Statement :
      s.Principal == { Service = "logs.eu-west-1.amazonaws.com" } &&
      try(s.Condition.ArnEquals["kms:EncryptionContext:aws:logs:arn"], null) == "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/sigil"
    ])
    error_message = "The key policy must let CloudWatch Logs use the key for the function's log group only"
  }

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == "arn:aws:kms:eu-west-1:111111111111:key/sigil"
    error_message = "The function's environment must be encrypted with the module's key"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == "arn:aws:kms:eu-west-1:111111111111:key/sigil" && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "The log group must be encrypted with the module's key and keep a year of logs"
  }

  assert {
    condition     = aws_sqs_queue.failed_events[0].name == "sigil-failed-events" && aws_sqs_queue.failed_events[0].sqs_managed_sse_enabled == true
    error_message = "The failed-events queue must be created as <name>-failed-events, with SSE-SQS"
  }

  assert {
    condition     = one(aws_lambda_function.this.dead_letter_config).target_arn == "arn:aws:sqs:eu-west-1:111111111111:sigil-failed-events"
    error_message = "Asynchronous events Lambda gives up on must go to the failed-events queue"
  }

  assert {
    condition     = one(one(aws_lambda_event_source_mapping.this.destination_config).on_failure).destination_arn == "arn:aws:sqs:eu-west-1:111111111111:sigil-failed-events"
    error_message = "Kinesis records skipped after the retries must be reported to the failed-events queue"
  }

  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 0 && length(aws_iam_role_policy_attachment.vpc) == 0 && aws_lambda_function.this.code_signing_config_arn == null
    error_message = "VPC and code signing are opt-in"
  }
}

run "triggers_invoke_the_live_alias_of_the_published_version" {
  command = plan

  variables {
    sqs_source_queue_arns = ["arn:aws:sqs:eu-west-1:111111111111:logs"]
    s3_sources            = [{ bucket_arn = "arn:aws:s3:::cloudtrail-logs" }]
  }

  assert {
    condition     = aws_lambda_function.this.publish == true
    error_message = "Each deployment must publish a version"
  }

  assert {
    condition     = aws_lambda_alias.live.name == "live" && aws_lambda_alias.live.function_version == "5"
    error_message = "The live alias must follow the version just published"
  }

  assert {
    condition = alltrue([
      aws_lambda_event_source_mapping.this.function_name == "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live",
      aws_lambda_event_source_mapping.sqs["arn:aws:sqs:eu-west-1:111111111111:logs"].function_name == "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live",
      aws_lambda_permission.s3["arn:aws:s3:::cloudtrail-logs"].qualifier == "live",
    ])
    error_message = "The Kinesis and SQS mappings and the S3 permission must name the live alias"
  }
}

run "live_version_pins_the_alias" {
  command = plan

  variables {
    live_version = "3"
  }

  assert {
    condition     = aws_lambda_alias.live.function_version == "3"
    error_message = "live_version must pin the alias (the rollback)"
  }
}

run "live_version_rejects_latest" {
  command = plan

  variables {
    live_version = "$LATEST"
  }

  expect_failures = [var.live_version]
}

run "existing_key_and_queue_are_used_not_created" {
  command = plan

  variables {
    create_kms_key             = false
    kms_key_arn                = "arn:aws:kms:eu-west-1:111111111111:key/shared"
    create_failed_events_queue = false
    failed_events_queue_arn    = "arn:aws:sqs:eu-west-1:111111111111:shared-failed"
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && length(aws_sqs_queue.failed_events) == 0
    error_message = "Nothing is created when an existing key and queue are given"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(data.aws_iam_policy_document.lambda_service.json).Statement : s.Sid => sort(flatten([s.Resource]))
      }) == jsonencode({
      WriteTraces        = ["*"]
      DecryptEnvironment = ["arn:aws:kms:eu-west-1:111111111111:key/shared"]
      SendFailedEvents   = ["arn:aws:sqs:eu-west-1:111111111111:shared-failed"]
    })
    error_message = "The statements must name the given key and queue"
  }

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == "arn:aws:kms:eu-west-1:111111111111:key/shared" && one(aws_lambda_function.this.dead_letter_config).target_arn == "arn:aws:sqs:eu-west-1:111111111111:shared-failed"
    error_message = "The function must use the given key and queue"
  }
}

run "without_key_or_queue_only_traces_are_granted" {
  command = plan

  variables {
    create_kms_key             = false
    create_failed_events_queue = false
    tracing_mode               = "PassThrough"
  }

  assert {
    condition     = [for s in jsondecode(data.aws_iam_policy_document.lambda_service.json).Statement : s.Sid] == ["WriteTraces"]
    error_message = "Without a key or a queue, the role gets neither kms:Decrypt nor sqs:SendMessage for them"
  }

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == null && length(aws_lambda_function.this.dead_letter_config) == 0 && length(aws_lambda_event_source_mapping.this.destination_config) == 0
    error_message = "Without a key the AWS managed key encrypts the environment; without a queue there is no dead-letter target"
  }

  assert {
    condition     = one(aws_lambda_function.this.tracing_config).mode == "PassThrough"
    error_message = "tracing_mode must set the tracing mode"
  }
}

run "vpc_is_opt_in_with_its_managed_policy" {
  command = plan

  variables {
    vpc_subnet_ids          = ["subnet-0123456789abcdef0"]
    vpc_security_group_ids  = ["sg-0123456789abcdef0"]
    code_signing_config_arn = "arn:aws:lambda:eu-west-1:111111111111:code-signing-config:csc-0123456789abcdef0"
  }

  assert {
    condition     = one(aws_lambda_function.this.vpc_config).subnet_ids == toset(["subnet-0123456789abcdef0"]) && one(aws_lambda_function.this.vpc_config).security_group_ids == toset(["sg-0123456789abcdef0"])
    error_message = "The function must run in the given subnets and security groups"
  }

  assert {
    condition     = aws_iam_role_policy_attachment.vpc[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    error_message = "A function in a VPC needs the managed policy for its network interfaces"
  }

  assert {
    condition     = aws_lambda_function.this.code_signing_config_arn == "arn:aws:lambda:eu-west-1:111111111111:code-signing-config:csc-0123456789abcdef0"
    error_message = "code_signing_config_arn must be set on the function"
  }
}

run "vpc_subnets_need_security_groups" {
  command = plan

  variables {
    vpc_subnet_ids = ["subnet-0123456789abcdef0"]
  }

  expect_failures = [var.vpc_security_group_ids]
}

run "quarantine_bucket_lifecycle_access_logs_and_notifications" {
  command = plan

  assert {
    condition = (
      length(aws_s3_bucket_lifecycle_configuration.quarantine[0].rule) == 1 &&
      one(aws_s3_bucket_lifecycle_configuration.quarantine[0].rule[0].noncurrent_version_expiration).noncurrent_days == 30 &&
      one(aws_s3_bucket_lifecycle_configuration.quarantine[0].rule[0].abort_incomplete_multipart_upload).days_after_initiation == 7
    )
    error_message = "By default quarantined records are kept (no expiration), old versions for 30 days"
  }

  assert {
    condition     = aws_s3_bucket_notification.quarantine[0].eventbridge == true
    error_message = "Each quarantined object must be an EventBridge event"
  }

  assert {
    condition     = aws_s3_bucket_logging.quarantine[0].target_bucket == "sigil-access-logs-123" && aws_s3_bucket_logging.quarantine[0].target_prefix == "quarantine-access/"
    error_message = "The quarantine bucket's access logs must go to the created access log bucket"
  }

  assert {
    condition = (
      one(aws_s3_bucket_versioning.access_logs[0].versioning_configuration).status == "Enabled" &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.access_logs[0].rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256" &&
      aws_s3_bucket_public_access_block.access_logs[0].restrict_public_buckets &&
      one(aws_s3_bucket_lifecycle_configuration.access_logs[0].rule[0].expiration).days == 365
    )
    error_message = "The access log bucket must be versioned, SSE-S3, private, and expire logs after a year"
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(aws_s3_bucket_policy.access_logs[0].policy).Statement : [s.Effect, s.Principal, s.Action] if s.Effect == "Allow"
    ]) == jsonencode([["Allow", { Service = "logging.s3.amazonaws.com" }, "s3:PutObject"]])
    error_message = "Only the S3 logging service may write to the access log bucket"
  }
}

run "quarantine_expiration_and_existing_access_log_bucket" {
  command = plan

  variables {
    quarantine_expiration_days   = 90
    quarantine_access_log_bucket = "central-access-logs"
    quarantine_access_log_prefix = "sigil/"
  }

  assert {
    condition     = length(aws_s3_bucket.access_logs) == 0 && aws_s3_bucket_logging.quarantine[0].target_bucket == "central-access-logs" && aws_s3_bucket_logging.quarantine[0].target_prefix == "sigil/"
    error_message = "A given access log bucket is used, none created"
  }

  assert {
    condition = jsonencode([
      for r in aws_s3_bucket_lifecycle_configuration.quarantine[0].rule :
      [one(r.expiration).days, one(r.filter).prefix] if r.id == "quarantined-records"
    ]) == jsonencode([[90, "quarantine/"]])
    error_message = "quarantine_expiration_days must expire the quarantined records, under the prefix only"
  }
}

run "sns_cloudwatch_logs_and_eventbridge_sources_invoke_the_alias" {
  command = plan

  variables {
    sns_source_topic_arns = ["arn:aws:sns:eu-west-1:222222222222:findings"]
    cloudwatch_logs_sources = [
      { log_group_name = "/aws/eks/prod/cluster" },
      { log_group_name = "/app/audit", filter_pattern = "{ $.level = \"audit\" }", filter_name = "audit-to-sigil" },
    ]
    eventbridge_rules = {
      guardduty = { event_pattern = "{\"source\":[\"aws.guardduty\"]}" }
    }
  }

  assert {
    condition = (
      aws_sns_topic_subscription.sources["arn:aws:sns:eu-west-1:222222222222:findings"].protocol == "lambda" &&
      aws_sns_topic_subscription.sources["arn:aws:sns:eu-west-1:222222222222:findings"].endpoint == "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live"
    )
    error_message = "Each SNS topic must get a lambda subscription of the live alias"
  }

  assert {
    condition = jsonencode({
      for arn, p in aws_lambda_permission.sns : arn => [p.principal, p.action, p.source_arn, p.qualifier]
      }) == jsonencode({
      "arn:aws:sns:eu-west-1:222222222222:findings" = ["sns.amazonaws.com", "lambda:InvokeFunction", "arn:aws:sns:eu-west-1:222222222222:findings", "live"]
    })
    error_message = "SNS may invoke the alias for each source topic only"
  }

  assert {
    condition = jsonencode({
      for group, f in aws_cloudwatch_log_subscription_filter.sources : group => [f.name, f.filter_pattern, f.destination_arn]
      }) == jsonencode({
      "/app/audit"            = ["audit-to-sigil", "{ $.level = \"audit\" }", "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live"]
      "/aws/eks/prod/cluster" = ["sigil-sigil", "", "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live"]
    })
    error_message = "Each log group must get a subscription filter (every event by default) delivering to the alias"
  }

  assert {
    condition = jsonencode({
      for group, p in aws_lambda_permission.cloudwatch_logs : group => [p.principal, p.source_arn, p.source_account, p.qualifier]
      }) == jsonencode({
      "/app/audit"            = ["logs.amazonaws.com", "arn:aws:logs:eu-west-1:111111111111:log-group:/app/audit:*", "111111111111", "live"]
      "/aws/eks/prod/cluster" = ["logs.amazonaws.com", "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/eks/prod/cluster:*", "111111111111", "live"]
    })
    error_message = "CloudWatch Logs may invoke the alias for each source log group only"
  }

  assert {
    condition = (
      aws_cloudwatch_event_rule.sources["guardduty"].name == "sigil-guardduty" &&
      aws_cloudwatch_event_rule.sources["guardduty"].event_bus_name == "default" &&
      aws_cloudwatch_event_target.sources["guardduty"].arn == "arn:aws:lambda:eu-west-1:111111111111:function:sigil:live" &&
      aws_lambda_permission.eventbridge["guardduty"].principal == "events.amazonaws.com" &&
      aws_lambda_permission.eventbridge["guardduty"].source_arn == "arn:aws:events:eu-west-1:111111111111:rule/sigil-guardduty" &&
      aws_lambda_permission.eventbridge["guardduty"].qualifier == "live"
    )
    error_message = "Each EventBridge rule must target the alias, which EventBridge may invoke for that rule only"
  }

  assert {
    condition = jsonencode(jsondecode(data.aws_iam_policy_document.optional.json).Statement[*].Sid) == jsonencode([
      "SendDeadLetters", "WriteQuarantine", "ReadSecretsManagerSecrets", "ReadSsmParameters",
    ])
    error_message = "Pushed sources (SNS, CloudWatch Logs, EventBridge) need no permission of the role"
  }
}

run "cloudwatch_logs_source_rejects_the_function_log_group" {
  command = plan

  variables {
    cloudwatch_logs_sources = [{ log_group_name = "/aws/lambda/sigil" }]
  }

  expect_failures = [var.cloudwatch_logs_sources]
}

run "eventbridge_rule_rejects_a_pattern_that_is_not_json" {
  command = plan

  variables {
    eventbridge_rules = { bad = { event_pattern = "source = aws.guardduty" } }
  }

  expect_failures = [var.eventbridge_rules]
}

run "sns_source_rejects_a_fifo_topic" {
  command = plan

  variables {
    sns_source_topic_arns = ["arn:aws:sns:eu-west-1:111111111111:logs.fifo"]
  }

  expect_failures = [var.sns_source_topic_arns]
}
