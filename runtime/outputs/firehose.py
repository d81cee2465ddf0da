"""Put alerts on a Kinesis Data Firehose delivery stream, one JSON line each (parts above 1,000 KiB)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output
from runtime.outputs.parts import PartLedger, split

RECORD_LIMIT = 1000 * 1024 - 1  # minus the newline


class FirehoseOutput(Output):
    """``aws-firehose:NAME`` → ``{"stream": delivery stream name}``; optional ``format``."""

    service = "aws-firehose"
    required = frozenset({"stream"})
    optional = frozenset({"format"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._parts = PartLedger()

    def send(self, alert: Mapping[str, Any]) -> None:
        """Put the alert as a newline-terminated record so the delivered objects are JSON lines."""
        stream = str(self.settings["stream"])
        firehose = self.resources.aws("firehose")
        self._parts.send_all(
            str(alert["alert_id"]),
            split(self.document(alert), RECORD_LIMIT, str(alert["alert_id"])),
            lambda _, line: firehose.put_record(
                DeliveryStreamName=stream, Record={"Data": (line + "\n").encode()}
            ),
        )
