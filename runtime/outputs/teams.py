"""Post alerts to a Microsoft Teams incoming webhook, as an Adaptive Card (default) or a legacy MessageCard.

Alert values come from logs, and Teams reads markdown (links, emphasis, lists) in TextBlocks and facts and
HTML in MessageCards. In the Adaptive Card every value is a ``TextRun`` of a ``RichTextBlock``, which Teams
shows literally (TextBlocks hold only this module's labels); in the MessageCard the section's markdown is
off, values are HTML-escaped, and the card title, which may still be read as markdown, is escaped for both.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output, OutputConfigError
from runtime.outputs.text import cut, fit_payload, key_fields, level, pretty_record

MESSAGE_LIMIT = 24 * 1024  # Teams refuses messages over ~28 KB
TITLE_LIMIT = 500
COLORS = {
    "critical": "8B0000",
    "high": "D13438",
    "medium": "FF8C00",
    "low": "0078D7",
    "informational": "808080",
}
CARD_STYLES = ("adaptive", "messagecard")
MARKDOWN_CHARS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def escape_markdown(text: str) -> str:
    """HTML-escape ``text`` and backslash-escape markdown's punctuation, on one line."""
    return MARKDOWN_CHARS.sub(r"\\\1", html.escape(" ".join(text.splitlines())))


def run(text: str, **style: Any) -> dict[str, Any]:
    """A TextRun: text shown as is (no markdown), with an explicit style."""
    return {"type": "TextRun", "text": text, **style}


def rich(*runs: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A RichTextBlock of ``runs``."""
    return {"type": "RichTextBlock", "inlines": list(runs), **options}


def _facts(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the alert's labelled facts followed by its key fields."""
    facts = [
        ("Level", level(alert)),
        ("Rule", str(alert.get("rule_id"))),
        ("Log type", str(alert.get("log_type"))),
        ("Alert id", str(alert.get("alert_id"))),
    ]
    return facts + key_fields(alert)


def adaptive_card(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return a Workflows-style message carrying an Adaptive Card 1.4, the record cut to fit the size limit."""
    return fit_payload(lambda record: _adaptive_card(alert, record), pretty_record(alert), MESSAGE_LIMIT)


def _adaptive_card(alert: Mapping[str, Any], record: str) -> dict[str, Any]:
    """Return the adaptive card message showing ``record``; every alert value is a TextRun."""
    body: list[dict[str, Any]] = [
        rich(run(cut(str(alert.get("title")), TITLE_LIMIT), size="Large", weight="Bolder")),
        *(rich(run(f"{name}: ", weight="Bolder"), run(value)) for name, value in _facts(alert)),
    ]
    if alert.get("description"):
        body.append(rich(run(cut(str(alert["description"]), TITLE_LIMIT * 4))))
    body.append(rich(run(record, fontType="Monospace")))
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def message_card(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return a legacy Office 365 connector MessageCard, the record cut to fit the size limit."""
    return fit_payload(lambda record: _message_card(alert, record), pretty_record(alert), MESSAGE_LIMIT)


def _message_card(alert: Mapping[str, Any], record: str) -> dict[str, Any]:
    """Return the MessageCard showing ``record``."""
    title = cut(str(alert.get("title")), TITLE_LIMIT)
    section: dict[str, Any] = {
        "markdown": False,
        "activityTitle": html.escape(title),
        "facts": [{"name": html.escape(k), "value": html.escape(v)} for k, v in _facts(alert)],
        "text": f"<pre>{html.escape(record)}</pre>",
    }
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title,
        "themeColor": COLORS.get(level(alert), "808080"),
        "title": escape_markdown(title),
        "sections": [section],
    }


class TeamsOutput(Output):
    """``teams:NAME``: the secret holds the webhook URL; optional ``card`` setting: adaptive | messagecard."""

    service = "teams"
    optional = frozenset({"secret", "card"})

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> None:
        """Also check the card style."""
        super().check_settings(settings)
        if settings.get("card", "adaptive") not in CARD_STYLES:
            raise OutputConfigError(f"teams: card must be one of {CARD_STYLES}")

    def send(self, alert: Mapping[str, Any]) -> None:
        """Post the card."""
        url = self.secret_field(self.secret(), "url")
        card = message_card(alert) if self.settings.get("card") == "messagecard" else adaptive_card(alert)
        self.resources.http.post_json(url, card)
