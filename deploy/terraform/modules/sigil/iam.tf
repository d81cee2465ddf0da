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

  # Alert outputs (runtime/outputs/*.py): the resources of `alert_outputs` plus those the settings of `outputs`
  # name, as IAM sees them. The lists are not deduplicated here (distinct() of a list holding a value unknown
  # until apply has an unknown length): the statements are then decided at plan, from the inputs' lengths.
  alert_output_sns_topic_arns = concat(var.alert_outputs.sns_topic_arns, local.output_sns_topic_arns)
  alert_output_sqs_queue_arns = concat(var.alert_outputs.sqs_queue_arns, local.output_sqs_queue_arns)
  # The S3 output writes `<prefix>dt=YYYY-MM-DD/<rule_id>/<alert_id>.json`, the prefix used as is: the role
  # may put objects under `<bucket_arn>/<prefix>*` only.
  alert_output_s3_object_arns = concat(
    [for b in var.alert_outputs.s3_buckets : "${b.bucket_arn}/${b.prefix}*"],
    local.output_s3_object_arns,
  )
  alert_output_firehose_delivery_stream_arns = concat(var.alert_outputs.firehose_delivery_stream_arns, local.output_firehose_delivery_stream_arns)
  alert_output_lambda_function_arns          = concat(var.alert_outputs.lambda_function_arns, local.output_lambda_function_arns)
  # The CloudWatch Logs output creates its stream if missing and puts events in it: log-group:<name>:log-stream:<stream>.
  # ARNs copied from the console end with ":*" already.
  alert_output_log_stream_arns = [
    for arn in concat(var.alert_outputs.cloudwatch_log_group_arns, local.output_cloudwatch_log_group_arns) : "${trimsuffix(arn, ":*")}:*"
  ]
  # Publishing to an encrypted SNS topic or SQS queue needs kms:Decrypt besides kms:GenerateDataKey; a single
  # S3 PutObject needs kms:GenerateDataKey only.
  alert_output_kms_decrypt = length(var.alert_outputs.kms_key_arns) > 0 && length(local.alert_output_sns_topic_arns) + length(local.alert_output_sqs_queue_arns) > 0
}

################################################################################
# The resources named by the settings of `outputs` (variables.tf checks them with the same patterns)
################################################################################

locals {
  # runtime/outputs/s3.py DEFAULT_PREFIX
  s3_output_default_prefix = "alerts/"
  # https://sqs.<region>.amazonaws.com/<account>/<queue> or https://<region>.queue.amazonaws.com/<account>/<queue>
  # -> [region (first form), region (legacy form), account, queue]
  sqs_queue_url_pattern = "^https://(?:sqs\\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)|([a-z]{2}(?:-[a-z]+)+-[0-9]+)\\.queue)\\.amazonaws\\.com(?:\\.cn)?/([0-9]{12})/([A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\\.fifo)$"
  # <name>[:<qualifier>] or arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
  # -> [region, account, name, qualifier] (null when absent)
  lambda_function_pattern = "^(?:arn:aws[a-z-]*:lambda:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):function:)?([A-Za-z0-9_-]{1,64})(?::(\\$LATEST|[A-Za-z0-9_-]{1,128}))?$"

  # The runtime's clients are in the function's account and region: names resolve there.
  output_sns_topic_arns = [for descriptor, settings in var.outputs : settings.topic_arn if startswith(descriptor, "aws-sns:")]
  output_sqs_queue_arns = flatten([
    for descriptor, settings in var.outputs : [
      for part in [regex(local.sqs_queue_url_pattern, settings.queue_url)] :
      "arn:${local.partition}:sqs:${coalesce(part[0], part[1])}:${part[2]}:${part[3]}"
    ] if startswith(descriptor, "aws-sqs:")
  ])
  output_s3_object_arns = [
    for descriptor, settings in var.outputs :
    "arn:${local.partition}:s3:::${settings.bucket}/${try(settings.prefix, local.s3_output_default_prefix)}*"
    if startswith(descriptor, "aws-s3:")
  ]
  output_firehose_delivery_stream_arns = [
    for descriptor, settings in var.outputs :
    "arn:${local.partition}:firehose:${local.region}:${local.account_id}:deliverystream/${settings.stream}"
    if startswith(descriptor, "aws-firehose:")
  ]
  # IAM matches the invoked ARN literally: the qualifier (the setting's, else the function's) is part of it.
  output_lambda_function_arns = flatten([
    for descriptor, settings in var.outputs : [
      for part in [regex(local.lambda_function_pattern, settings.function)] :
      join(":", concat(
        ["arn", local.partition, "lambda", coalesce(part[0], local.region), coalesce(part[1], local.account_id), "function", part[2]],
        try([coalesce(try(settings.qualifier, null), part[3])], []),
      ))
    ] if startswith(descriptor, "aws-lambda:")
  ])
  output_cloudwatch_log_group_arns = [
    for descriptor, settings in var.outputs :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${settings.log_group}"
    if startswith(descriptor, "aws-cloudwatch-log:")
  ]
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
  # What Lambda itself does with the role (traces, the environment's key, failed events), and the
  # permissions of the optional features (dead-letter queue, quarantine, sources, secrets, alert outputs,
  # delivery ledger).
  source_policy_documents = [
    data.aws_iam_policy_document.lambda_service.json,
    data.aws_iam_policy_document.optional.json,
    data.aws_iam_policy_document.outputs.json,
  ]

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
# What the Lambda service does with the role, rather than the runtime's calls
################################################################################

data "aws_iam_policy_document" "lambda_service" {
  # X-Ray (tracing_mode): Lambda writes the segments of traced invocations (Active: sampled ones;
  # PassThrough: those whose caller traced them). These actions support no resource other than "*".
  statement {
    sid    = "WriteTraces"
    effect = "Allow"
    actions = [
      "xray:PutTelemetryRecords",
      "xray:PutTraceSegments",
    ]
    resources = ["*"]
  }

  # The module's key encrypts the function's environment, which Lambda decrypts at cold start.
  dynamic "statement" {
    for_each = local.kms_key_enabled ? [local.kms_key_arn] : []

    content {
      sid       = "DecryptEnvironment"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # Lambda sends failed asynchronous events (dead_letter_config) and the Kinesis mapping's on-failure
  # records with the function's role.
  dynamic "statement" {
    for_each = local.failed_events_enabled ? [local.failed_events_queue_arn] : []

    content {
      sid       = "SendFailedEvents"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
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

################################################################################
# Alert outputs and delivery ledger: exactly the calls runtime/outputs/ makes
################################################################################

data "aws_iam_policy_document" "outputs" {
  # runtime/outputs/sns.py: sns.publish
  dynamic "statement" {
    for_each = length(local.alert_output_sns_topic_arns) > 0 ? [distinct(local.alert_output_sns_topic_arns)] : []

    content {
      sid       = "PublishOutputTopics"
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = statement.value
    }
  }

  # runtime/outputs/sqs.py: sqs.send_message (one message per alert or part, never a batch)
  dynamic "statement" {
    for_each = length(local.alert_output_sqs_queue_arns) > 0 ? [distinct(local.alert_output_sqs_queue_arns)] : []

    content {
      sid       = "SendOutputQueues"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = statement.value
    }
  }

  # runtime/outputs/s3.py: s3.put_object
  dynamic "statement" {
    for_each = length(local.alert_output_s3_object_arns) > 0 ? [distinct(local.alert_output_s3_object_arns)] : []

    content {
      sid       = "WriteOutputObjects"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = statement.value
    }
  }

  # runtime/outputs/firehose.py: firehose.put_record (the stream's own key, if any, is used by Firehose
  # through its grant: producers need no KMS permission)
  dynamic "statement" {
    for_each = length(local.alert_output_firehose_delivery_stream_arns) > 0 ? [distinct(local.alert_output_firehose_delivery_stream_arns)] : []

    content {
      sid       = "PutOutputRecords"
      effect    = "Allow"
      actions   = ["firehose:PutRecord"]
      resources = statement.value
    }
  }

  # runtime/outputs/awslambda.py: lambda.invoke. IAM matches the invoked ARN literally: a qualified
  # invocation (version or alias) needs the qualified ARN.
  dynamic "statement" {
    for_each = length(local.alert_output_lambda_function_arns) > 0 ? [distinct(local.alert_output_lambda_function_arns)] : []

    content {
      sid       = "InvokeOutputFunctions"
      effect    = "Allow"
      actions   = ["lambda:InvokeFunction"]
      resources = statement.value
    }
  }

  # runtime/outputs/cloudwatch_log.py: logs.put_log_events, and logs.create_log_stream when the stream is missing
  dynamic "statement" {
    for_each = length(local.alert_output_log_stream_arns) > 0 ? [distinct(local.alert_output_log_stream_arns)] : []

    content {
      sid    = "WriteOutputLogs"
      effect = "Allow"
      actions = [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
      ]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.alert_outputs.kms_key_arns) > 0 ? [var.alert_outputs.kms_key_arns] : []

    content {
      sid       = "EncryptOutputs"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = local.alert_output_kms_decrypt ? [var.alert_outputs.kms_key_arns] : []

    content {
      sid       = "EncryptOutputTopicsAndQueues"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = statement.value
    }
  }

  # runtime/outputs/ledger.py: one consistent get_item per lookup, one conditional put_item per settled pair
  dynamic "statement" {
    for_each = local.delivery_ledger_enabled ? [local.delivery_ledger_table_arn] : []

    content {
      sid    = "ReadWriteDeliveryLedger"
      effect = "Allow"
      actions = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
      ]
      resources = [statement.value]
    }
  }

  # DynamoDB decrypts the table key with the caller's permissions: only through DynamoDB in this region.
  dynamic "statement" {
    for_each = local.delivery_ledger_enabled && var.delivery_ledger_kms_key_arn != null ? [var.delivery_ledger_kms_key_arn] : []

    content {
      sid       = "DecryptDeliveryLedger"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "sigil"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# A function in a VPC (vpc_subnet_ids) creates and deletes its network interfaces with the role: the AWS
# managed policy for exactly that (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, DeleteNetworkInterface,
# AssignPrivateIpAddresses, UnassignPrivateIpAddresses, which Lambda needs on "*").
resource "aws_iam_role_policy_attachment" "vpc" {
  count = length(var.vpc_subnet_ids) > 0 ? 1 : 0

  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}
