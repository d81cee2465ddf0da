# Test fixture (tests/permissions.tftest.hcl): the module called with output settings that are unknown
# until apply, as when they come from resources created in the same configuration.

resource "terraform_data" "queue_url" {
  input = "https://sqs.eu-west-1.amazonaws.com/111111111111/triage"
}

module "sigil" {
  source = "../.."

  name         = "sigil"
  package_path = "${path.module}/../../README.md"

  outputs = {
    "aws-sqs:triage" = { queue_url = terraform_data.queue_url.output }
    "aws-s3:archive" = { bucket = "alerts-archive", prefix = "${terraform_data.queue_url.id}/" }
    "jira:secops"    = { project = "SEC", labels = [terraform_data.queue_url.id] }
  }
}

output "lambda_role_name" {
  description = "Name of the module's role (planned)"
  value       = module.sigil.lambda_role_name
}
