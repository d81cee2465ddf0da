################################################################################
# The `live` alias: what every trigger invokes
################################################################################

# Each apply that changes the bundle or the configuration publishes a new version (publish = true); the alias
# follows the latest one unless `live_version` pins it. Rolling back is pointing the alias at an earlier
# version (README, "Rolling back"): the triggers, permissions and subscriptions, which all name the alias,
# follow at once.
resource "aws_lambda_alias" "live" {
  name             = "live"
  description      = "The version of ${var.name} the triggers invoke"
  function_name    = aws_lambda_function.this.function_name
  function_version = coalesce(var.live_version, aws_lambda_function.this.version)
}
