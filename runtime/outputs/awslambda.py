"""Invoke a Lambda function with the alert as its event (asynchronously by default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output, OutputConfigError
from runtime.outputs.parts import PartLedger, split
from runtime.retry import DeliveryError

PAYLOAD_LIMITS = {"Event": 256 * 1024, "RequestResponse": 6 * 1024 * 1024}


class LambdaOutput(Output):
    """``aws-lambda:NAME`` → ``{"function": name or ARN}``; optional ``qualifier``, ``invocation_type``
    (``Event`` default, or ``RequestResponse``) and ``format``.
    """

    service = "aws-lambda"
    required = frozenset({"function"})
    optional = frozenset({"qualifier", "invocation_type", "format"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._parts = PartLedger()
        self.invocation_type = str(self.settings.get("invocation_type", "Event"))

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> None:
        """Also check that ``invocation_type`` is one Sigil supports (DryRun would deliver nothing)."""
        super().check_settings(settings)
        if settings.get("invocation_type", "Event") not in PAYLOAD_LIMITS:
            raise OutputConfigError(f"{cls.service}: invocation_type must be one of {sorted(PAYLOAD_LIMITS)}")

    def send(self, alert: Mapping[str, Any]) -> None:
        """Invoke the function once per payload (parts when over the invocation type's limit)."""
        limit = PAYLOAD_LIMITS[self.invocation_type]
        self._parts.send_all(
            str(alert["alert_id"]), split(self.document(alert), limit, str(alert["alert_id"])), self._invoke
        )

    def _invoke(self, _: int, payload: str) -> None:
        """Invoke once; a function error (RequestResponse) is permanent: the function rejected the alert."""
        extra = {"Qualifier": str(self.settings["qualifier"])} if self.settings.get("qualifier") else {}
        response = self.resources.aws("lambda").invoke(
            FunctionName=str(self.settings["function"]),
            InvocationType=self.invocation_type,
            Payload=payload.encode(),
            **extra,
        )
        if response.get("FunctionError"):
            detail = response["Payload"].read()[:200].decode("utf-8", errors="replace")
            raise DeliveryError(
                f"{self.name}: function error {response['FunctionError']}: {detail}", retryable=False
            )
