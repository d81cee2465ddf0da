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

variable "log_bucket_name" {
  description = "Name of the S3 bucket created to receive logs (for example a CloudTrail trail's bucket); bucket names are global, so pick a unique one"
  type        = string
  default     = "sigil-example-logs"
}
