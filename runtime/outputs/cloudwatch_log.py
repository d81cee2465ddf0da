"""Write alerts as events of a CloudWatch Logs stream (created on first use if missing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from runtime.outputs.base import Output
from runtime.outputs.parts import PartLedger, split
from runtime.retry import DeliveryError

EVENT_LIMIT = 256 * 1024 - 26  # CloudWatch counts 26 bytes of overhead per event
DEFAULT_STREAM = "alerts"


class CloudWatchLogOutput(Output):
    """``aws-cloudwatch-log:NAME`` → ``{"log_group": ...}``; optional ``log_stream`` (default ``alerts``), ``format``."""

    service = "aws-cloudwatch-log"
    required = frozenset({"log_group"})
    optional = frozenset({"log_stream", "format"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._parts = PartLedger()

    def send(self, alert: Mapping[str, Any]) -> None:
        """Put the alert as one log event (parts above the event size limit)."""
        self._parts.send_all(
            str(alert["alert_id"]),
            split(self.document(alert), EVENT_LIMIT, str(alert["alert_id"])),
            self._put,
        )

    def _put(self, _: int, message: str) -> None:
        """Put one event; create the stream if it does not exist yet and try once more."""
        group = str(self.settings["log_group"])
        stream = str(self.settings.get("log_stream", DEFAULT_STREAM))
        logs = self.resources.aws("logs")
        event = {"timestamp": int(self.resources.now() * 1000), "message": message}
        try:
            response = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            _create_stream(logs, group, stream)
            response = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])
        if response.get("rejectedLogEventsInfo"):  # e.g. a timestamp too old or too far in the future
            raise DeliveryError(
                f"{self.name}: event rejected: {response['rejectedLogEventsInfo']}", retryable=False
            )


def _create_stream(logs: Any, group: str, stream: str) -> None:
    """Create the log stream (a concurrent creator winning the race is fine)."""
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            raise
