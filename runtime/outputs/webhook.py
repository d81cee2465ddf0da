"""POST alerts to a generic HTTPS webhook, the body signed with HMAC-SHA256 (URL and key from the secret store)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from runtime.alerts import canonical_json
from runtime.outputs.base import Output

SIGNATURE_HEADER = "X-Sigil-Signature-256"
ALERT_ID_HEADER = "X-Sigil-Alert-Id"


def signature(key: str, body: bytes) -> str:
    """Return ``sha256=<hex HMAC-SHA256 of body>``, the value of the signature header."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify(key: str, body: bytes, header: str) -> bool:
    """Check a signature header in constant time (what a receiver does)."""
    return hmac.compare_digest(signature(key, body), header)


class WebhookOutput(Output):
    """``webhook:NAME``: the secret holds ``url`` and ``hmac_key``; optional ``format`` (alert | ocsf)."""

    service = "webhook"
    optional = frozenset({"secret", "format"})

    def send(self, alert: Mapping[str, Any]) -> None:
        """POST the canonical JSON with its signature and the alert id (receivers dedupe on it)."""
        fields = self.secret()
        url = self.secret_field(fields, "url")
        key = self.secret_field(fields, "hmac_key")
        body = canonical_json(self.document(alert)).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(key, body),
            ALERT_ID_HEADER: str(alert["alert_id"]),
        }
        self.resources.http.post(url, body, headers)
