"""Post alerts to a Slack incoming webhook (URL from the secret store), cut to Slack's message limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output
from runtime.outputs.text import cut, key_fields, level, pretty_record

TEXT_LIMIT = 40_000
MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
FENCE = "```"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    """Return a mrkdwn section block (text already escaped and cut)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _summary(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return the section of labelled fields: level, rule id, log type, source, alert id."""
    pairs = [
        ("Level", level(alert)),
        ("Rule", f"`{alert.get('rule_id')}`"),
        ("Log type", str(alert.get("log_type"))),
        ("Source", str(alert.get("source"))),
        ("Alert id", f"`{alert.get('alert_id')}`"),
    ]
    fields = [
        {"type": "mrkdwn", "text": cut(f"*{name}*\n{escape(value)}", FIELD_LIMIT)} for name, value in pairs
    ]
    return {"type": "section", "fields": fields}


def _key_fields(alert: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the key-fields section, keeping whole lines up to the section limit."""
    text = "*Key fields*"
    for name, value in key_fields(alert):
        line = f"\n• *{escape(name)}*: `{escape(value)}`"
        if len(text) + len(line) > SECTION_LIMIT:
            break
        text += line
    return _section(text) if text != "*Key fields*" else None


def _escaped_chunks(text: str, size: int) -> list[str]:
    """Cut escaped text into chunks of at most ``size`` characters, never inside an ``&...;`` entity."""
    chunks, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        amp = text.rfind("&", start, end)
        if end < len(text) and amp > start and text.find(";", amp, end) == -1:
            end = amp
        chunks.append(text[start:end])
        start = end
    return chunks


def blocks(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the Block Kit layout: header, summary, description, key fields, then the record in code blocks."""
    layout: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": cut(str(alert.get("title")), HEADER_LIMIT)},
        },
        _summary(alert),
    ]
    if alert.get("description"):
        layout.append(_section(cut(escape(str(alert["description"])), SECTION_LIMIT)))
    fields = _key_fields(alert)
    if fields is not None:
        layout.append(fields)
    record = escape(pretty_record(alert))
    chunks = _escaped_chunks(record, SECTION_LIMIT - 2 * len(FENCE))
    room = MAX_BLOCKS - len(layout)
    if len(chunks) > room:
        chunks = chunks[: room - 1]
        shown = sum(map(len, chunks))
        notice = f"_Record truncated: {shown:,} of {len(record):,} characters shown._"
        layout.extend(_section(f"{FENCE}{chunk}{FENCE}") for chunk in chunks)
        layout.append({"type": "context", "elements": [{"type": "mrkdwn", "text": notice}]})
    else:
        layout.extend(_section(f"{FENCE}{chunk}{FENCE}") for chunk in chunks)
    return layout


def message(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return the webhook payload: notification text (≤ 40,000 chars) and at most 50 blocks."""
    text = f"[{level(alert).upper()}] {alert.get('title')} (rule {alert.get('rule_id')})"
    return {"text": cut(escape(text), TEXT_LIMIT), "blocks": blocks(alert)}


class SlackOutput(Output):
    """``slack:NAME``: the secret holds the incoming webhook URL (plain text or ``{"url": ...}``)."""

    service = "slack"
    optional = frozenset({"secret"})

    def send(self, alert: Mapping[str, Any]) -> None:
        """Post the message; Slack answers 200 ``ok``, 429 with Retry-After when rate limited."""
        url = self.secret_field(self.secret(), "url")
        self.resources.http.post_json(url, message(alert))
