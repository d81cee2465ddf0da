# Test fixture (tests/alarms.tftest.hcl): the module called with an existing dead-letter queue whose ARN is
# unknown until apply, as when the queue is created in the same configuration.

variable "create_alarms" {
  description = "Passed to the module's create_alarms"
  type        = bool
  default     = false
}

variable "dlq_alarm" {
  description = "Passed to the module's alarms.dlq_messages.enabled"
  type        = bool
  default     = true
}

resource "terraform_data" "dlq_arn" {
  input = "arn:aws:sqs:eu-west-1:111111111111:alerts-dlq"
}

module "sigil" {
  source = "../.."

  name         = "sigil"
  package_path = "${path.module}/../../README.md"

  create_dlq = false
  dlq_arn    = terraform_data.dlq_arn.output

  create_alarms = var.create_alarms
  alarms = {
    dlq_messages = { enabled = var.dlq_alarm }
  }
}

output "alarms" {
  description = "The module's alarms (planned), by alarm"
  value       = module.sigil.cloudwatch_metric_alarm_arns
}
