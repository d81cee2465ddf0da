# Plans the module offline with and without the state table of correlations and dedup
# (state.tf): the table's settings, the role's permissions on it, the environment and the schedule.

provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = 1
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
  target          = aws_dynamodb_table.state
  override_during = plan
  values = {
    arn  = "arn:aws:dynamodb:eu-west-1:111111111111:table/sigil-state"
    name = "sigil-state"
  }
}

variables {
  name         = "sigil"
  package_path = "README.md"
}

run "no_state_table_by_default" {
  command = plan

  assert {
    condition     = length(aws_dynamodb_table.state) == 0 && length(aws_cloudwatch_event_rule.dedup_flush) == 0
    error_message = "No state table or schedule unless create_state_table"
  }

  assert {
    condition     = !contains(keys(one(aws_lambda_function.this.environment).variables), "SIGIL_STATE_TABLE")
    error_message = "SIGIL_STATE_TABLE is set only with a state table"
  }
}

run "state_table_hardened_scoped_and_flushed" {
  command = plan

  variables {
    create_state_table = true
    state_kms_key_arn  = "arn:aws:kms:eu-west-1:111111111111:key/state"
  }

  assert {
    condition = (
      aws_dynamodb_table.state[0].billing_mode == "PAY_PER_REQUEST" &&
      aws_dynamodb_table.state[0].hash_key == "key" &&
      one(aws_dynamodb_table.state[0].ttl).attribute_name == "expires_at" &&
      one(aws_dynamodb_table.state[0].point_in_time_recovery).enabled &&
      one(aws_dynamodb_table.state[0].server_side_encryption).kms_key_arn == "arn:aws:kms:eu-west-1:111111111111:key/state"
    )
    error_message = "The state table is on demand, keyed as runtime/state/dynamodb.py writes it, with TTL, PITR and the given key"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SIGIL_STATE_TABLE"] == "sigil-state"
    error_message = "The function is told its state table"
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(data.aws_iam_policy_document.state[0].json).Statement : [s.Sid, s.Resource]
      ]) == jsonencode([
      ["ReadWriteState", "arn:aws:dynamodb:eu-west-1:111111111111:table/sigil-state"],
      ["UseStateKey", "arn:aws:kms:eu-west-1:111111111111:key/state"],
    ])
    error_message = "The role may use the state table and its key only"
  }

  assert {
    condition     = aws_cloudwatch_event_target.dedup_flush[0].input == jsonencode({ sigil = "flush" })
    error_message = "The schedule invokes the function with the flush event runtime/stateful.py expects"
  }
}
