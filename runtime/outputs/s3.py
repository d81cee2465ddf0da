"""Write each alert as one JSON object in S3, at a key derived from its id (a re-put overwrites, never duplicates)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from runtime.alerts import canonical_json
from runtime.outputs.base import Output

DEFAULT_PREFIX = "alerts/"


class S3Output(Output):
    """``aws-s3:NAME`` → ``{"bucket": ...}``; optional ``prefix`` (default ``alerts/``) and ``format``.

    Key: ``{prefix}dt=YYYY-MM-DD/{rule_id}/{alert_id}.json`` (UTC date of delivery), Athena-friendly.
    """

    service = "aws-s3"
    required = frozenset({"bucket"})
    optional = frozenset({"prefix", "format"})

    def key(self, alert: Mapping[str, Any]) -> str:
        """Return the object key of ``alert``."""
        day = time.strftime("%Y-%m-%d", time.gmtime(self.resources.now()))
        prefix = str(self.settings.get("prefix", DEFAULT_PREFIX))
        return f"{prefix}dt={day}/{alert['rule_id']}/{alert['alert_id']}.json"

    def send(self, alert: Mapping[str, Any]) -> None:
        """Put the alert (no size limit that matters: S3 takes up to 5 GB in one put)."""
        self.resources.aws("s3").put_object(
            Bucket=str(self.settings["bucket"]),
            Key=self.key(alert),
            Body=canonical_json(self.document(alert)).encode(),
            ContentType="application/json",
        )
