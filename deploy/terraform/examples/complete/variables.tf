variable "region" {
  description = "AWS region to deploy Sigil to"
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the Sigil deployment (Lambda function, Kinesis stream, IAM role)"
  type        = string
  default     = "sigil"
}
