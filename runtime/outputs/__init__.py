"""Alert outputs: each service is a class built from (descriptor, settings, resources) with ``send(alert)``.

Rules name outputs as ``service:descriptor`` (``slack:secops``); ``OUTPUTS`` maps a service to its class
and ``normalize`` accepts the short AWS names (``sns:alerts`` → ``aws-sns:alerts``).
"""

from __future__ import annotations

from runtime.outputs.awslambda import LambdaOutput
from runtime.outputs.base import Output, OutputConfigError
from runtime.outputs.cloudwatch_log import CloudWatchLogOutput
from runtime.outputs.firehose import FirehoseOutput
from runtime.outputs.jira import JiraOutput
from runtime.outputs.pagerduty import PagerDutyOutput
from runtime.outputs.s3 import S3Output
from runtime.outputs.slack import SlackOutput
from runtime.outputs.sns import SnsOutput
from runtime.outputs.sqs import SqsOutput
from runtime.outputs.teams import TeamsOutput
from runtime.outputs.webhook import WebhookOutput

OUTPUTS: dict[str, type[Output]] = {
    cls.service: cls
    for cls in (
        SnsOutput,
        SqsOutput,
        S3Output,
        FirehoseOutput,
        LambdaOutput,
        CloudWatchLogOutput,
        SlackOutput,
        PagerDutyOutput,
        TeamsOutput,
        JiraOutput,
        WebhookOutput,
    )
}
ALIASES = {
    "sns": "aws-sns",
    "sqs": "aws-sqs",
    "s3": "aws-s3",
    "firehose": "aws-firehose",
    "lambda": "aws-lambda",
    "cloudwatch-log": "aws-cloudwatch-log",
    "aws-cloudwatch-logs": "aws-cloudwatch-log",
}


def normalize(descriptor: str) -> str:
    """Return ``service:name`` with the service's canonical spelling; raise OutputConfigError if malformed."""
    service, sep, name = descriptor.strip().partition(":")
    service = ALIASES.get(service.lower(), service.lower())
    if not sep or not name or service not in OUTPUTS:
        raise OutputConfigError(f"unknown output {descriptor!r}; services: {sorted(OUTPUTS)}")
    return f"{service}:{name}"


__all__ = ["ALIASES", "OUTPUTS", "Output", "OutputConfigError", "normalize"]
