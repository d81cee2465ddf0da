provider "aws" {
  region = var.region
}

locals {
  tags = {
    Project    = "sigil"
    Example    = "complete"
    Repository = "sigil"
  }
}

module "sigil" {
  source = "../../modules/sigil"

  name = var.name

  # Written by `make bundle` at the root of the repository.
  package_path = "${path.module}/../../../../build/sigil-lambda.zip"

  architectures                  = ["arm64"]
  memory_size                    = 512
  timeout                        = 60
  reserved_concurrent_executions = 10

  cloudwatch_logs_retention_in_days = 30

  kinesis_stream_mode      = "ON_DEMAND"
  kinesis_retention_period = 24
  kinesis_kms_key_id       = "alias/aws/kinesis"

  event_source_starting_position      = "LATEST"
  event_source_batch_size             = 100
  event_source_maximum_retry_attempts = 3

  sns_kms_master_key_id = "alias/aws/sns"

  tags = local.tags
}
