"""Post alerts to a Slack incoming webhook (URL from the secret store), cut to Slack's message limits.

Alert values come from logs and may hold anything: backticks, ``*``, ``<https://evil|click>``, ``<!channel>``.
So no value is ever put in mrkdwn text: mrkdwn carries only this module's own labels, and values travel as
``plain_text`` objects or as ``text`` elements of rich text blocks, which Slack shows literally (their style
set here, never parsed from the text). The notification ``text`` has mrkdwn off and ``&``, ``<``, ``>`` escaped.
"""

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
RICH_TEXT_LIMIT = 3000  # characters of alert text per rich text block


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters in any message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object: shown as is, no formatting, links, mentions or emoji codes."""
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": False}


def label(name: str) -> dict[str, Any]:
    """A mrkdwn object holding one of this module's labels in bold (never alert text)."""
    return {"type": "mrkdwn", "text": f"*{name}*"}


def run(text: str, **style: bool) -> dict[str, Any]:
    """A rich text ``text`` element: literal text with an explicit style."""
    element: dict[str, Any] = {"type": "text", "text": text}
    if style:
        element["style"] = style
    return element


def _summary(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return the section of labelled fields (label, then value): level, rule id, log type, source, alert id."""
    pairs = [
        ("Level", level(alert)),
        ("Rule", str(alert.get("rule_id"))),
        ("Log type", str(alert.get("log_type"))),
        ("Source", str(alert.get("source"))),
        ("Alert id", str(alert.get("alert_id"))),
    ]
    fields = [item for name, value in pairs for item in (label(name), plain(value, FIELD_LIMIT))]
    return {"type": "section", "fields": fields}


def _key_fields(alert: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the key fields as one rich text block (name in bold, value as code), whole lines up to the limit."""
    elements = [run("Key fields", bold=True)]
    size = 0
    for name, value in key_fields(alert):
        line = [run("\n• "), run(name, bold=True), run(": "), run(value, code=True)]
        size += len(name) + len(value) + 4
        if size > SECTION_LIMIT:
            break
        elements += [element for element in line if element["text"]]  # Slack refuses empty text elements
    if len(elements) == 1:
        return None
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def _preformatted(text: str) -> dict[str, Any]:
    """A rich text block showing ``text`` as a preformatted (code) block, literally."""
    return {"type": "rich_text", "elements": [{"type": "rich_text_preformatted", "elements": [run(text)]}]}


def blocks(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the Block Kit layout: header, summary, description, key fields, then the record in code blocks."""
    layout: list[dict[str, Any]] = [
        {"type": "header", "text": plain(str(alert.get("title")), HEADER_LIMIT)},
        _summary(alert),
    ]
    if alert.get("description"):
        layout.append({"type": "section", "text": plain(str(alert["description"]), SECTION_LIMIT)})
    fields = _key_fields(alert)
    if fields is not None:
        layout.append(fields)
    record = pretty_record(alert)
    chunks = [record[i : i + RICH_TEXT_LIMIT] for i in range(0, len(record), RICH_TEXT_LIMIT)]
    room = MAX_BLOCKS - len(layout)
    if len(chunks) > room:
        chunks = chunks[: room - 1]
        shown = sum(map(len, chunks))
        notice = f"_Record truncated: {shown:,} of {len(record):,} characters shown._"
        layout.extend(_preformatted(chunk) for chunk in chunks)
        layout.append({"type": "context", "elements": [{"type": "mrkdwn", "text": notice}]})
    else:
        layout.extend(_preformatted(chunk) for chunk in chunks)
    return layout


def message(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return the webhook payload: notification text (≤ 40,000 chars, not formatted) and at most 50 blocks."""
    text = f"[{level(alert).upper()}] {alert.get('title')} (rule {alert.get('rule_id')})"
    return {"text": cut(escape(text), TEXT_LIMIT), "mrkdwn": False, "blocks": blocks(alert)}


class SlackOutput(Output):
    """``slack:NAME``: the secret holds the incoming webhook URL (plain text or ``{"url": ...}``)."""

    service = "slack"
    optional = frozenset({"secret"})

    def send(self, alert: Mapping[str, Any]) -> None:
        """Post the message; Slack answers 200 ``ok``, 429 with Retry-After when rate limited."""
        url = self.secret_field(self.secret(), "url")
        self.resources.http.post_json(url, message(alert))
