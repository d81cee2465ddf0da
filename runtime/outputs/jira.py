"""Open a Jira issue per alert (REST API v2), with basic auth from the secret store and no duplicate issues.

The description is Jira wiki markup, and alert values come from logs: a value could close ``{{…}}`` or the
``{code}`` block and add links (``[x|https://…]``, a bare URL), images (``!https://…!``), mentions, headings.
So every value is escaped (``escape``) and the record's JSON never holds ``{`` before a letter (``code_json``).
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output
from runtime.outputs.text import cut, key_fields, level, pretty_record
from runtime.retry import DeliveryError

SUMMARY_LIMIT = 255
DESCRIPTION_LIMIT = 32_767
LABEL_PREFIX = "sigil-"
# characters of a value before escaping, which can make it up to 5 times longer: with these the text before
# the record stays under 31,000 characters, whatever the values (key field values are cut to 300 already)
LINE_VALUE_LIMIT = 200
DESCRIPTION_TEXT_LIMIT = 1000
FIELD_NAME_LIMIT = 100
# the characters Jira's renderer un-escapes after a backslash (BackslashEscapeRendererComponent) ...
ESCAPES = {char: "\\" + char for char in "-#*_+?^~|%{}[]()!@"}
# ... and those with no backslash escape, written as entities: a backslash (``\\`` is a line break), ``:``
# (bare URLs and emoticons such as ``:D``) and ``&`` (so that the entities read back as what they replace)
ESCAPES.update({"&": "&amp;", "\\": "&#92;", ":": "&#58;"})
MACRO_START = re.compile(r"\{(?=[A-Za-z])")


def escape(value: str) -> str:
    """Return ``value`` as Jira wiki text that renders literally, on one line.

    Line breaks become spaces (a line could otherwise start a heading, list, table or quote), ``&``, ``\\``
    and ``:`` become numeric entities, and every other markup character is backslash-escaped.
    """
    return "".join(ESCAPES.get(char, char) for char in " ".join(value.splitlines()))


def code_json(text: str) -> str:
    """Return JSON ``text`` safe inside ``{code}``: ``{`` before a letter only occurs inside strings, where
    ``\\u007b`` means the same, so no macro (``{code}``, ``{noformat}``) can end the block."""
    return MACRO_START.sub(r"\\u007b", text)


def label(alert: Mapping[str, Any]) -> str:
    """Return the label that ties an issue to its alert (used to find it again after an ambiguous failure)."""
    return f"{LABEL_PREFIX}{alert['alert_id']}"


def description(alert: Mapping[str, Any]) -> str:
    """Return the issue description in Jira wiki markup, the record cut so the whole fits 32,767 chars."""

    def line(value: Any) -> str:
        return escape(cut(str(value), LINE_VALUE_LIMIT))

    lines = [
        f"*Rule:* {line(alert.get('rule_id'))}",
        f"*Level:* {line(level(alert))}",
        f"*Log type:* {line(alert.get('log_type'))}",
        f"*Source:* {line(alert.get('source'))}",
        f"*Alert id:* {line(alert.get('alert_id'))}",
    ]
    if alert.get("description"):
        lines += ["", escape(cut(str(alert["description"]), DESCRIPTION_TEXT_LIMIT))]
    fields = key_fields(alert)
    if fields:
        lines += [
            "",
            "h4. Key fields",
            *(f"* {escape(cut(name, FIELD_NAME_LIMIT))}: {{{{{escape(value)}}}}}" for name, value in fields),
        ]
    head = "\n".join(lines)
    room = DESCRIPTION_LIMIT - len(head) - len("\n\nh4. Record\n{code:json}\n\n{code}")
    record = code_json(pretty_record(alert))
    if len(record) > room:  # cut, then drop a \u007b escape the cut broke in two
        record = re.sub(r"\\u?0?0?7?$", "", record[: max(room - 1, 0)]) + "…"
    return f"{head}\n\nh4. Record\n{{code:json}}\n{record}\n{{code}}"


def issue(alert: Mapping[str, Any], project: str, issue_type: str, labels: list[str]) -> dict[str, Any]:
    """Return the create-issue body."""
    summary = cut(" ".join(str(alert.get("title")).split()), SUMMARY_LIMIT)
    return {
        "fields": {
            "project": {"key": project},
            "issuetype": {"name": issue_type},
            "summary": summary,
            "description": description(alert),
            "labels": ["sigil", *labels, label(alert)],
        }
    }


class JiraOutput(Output):
    """``jira:NAME`` → ``{"project": KEY}``; optional ``issue_type`` (Task), ``labels``, ``secret``.

    The secret holds ``url`` (site base URL), ``username`` and ``api_token`` (or ``password``).
    """

    service = "jira"
    required = frozenset({"project"})
    optional = frozenset({"secret", "issue_type", "labels"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._uncertain: set[str] = set()

    def send(self, alert: Mapping[str, Any]) -> None:
        """Create the issue; after a failure that may have created it anyway, look for it first."""
        fields = self.secret()
        base = self.secret_field(fields, "url").rstrip("/")
        headers = {"Authorization": _basic_auth(fields, self)}
        alert_id = str(alert["alert_id"])
        if alert_id in self._uncertain and self._exists(base, headers, label(alert)):
            self._uncertain.discard(alert_id)
            return
        body = issue(
            alert,
            str(self.settings["project"]),
            str(self.settings.get("issue_type", "Task")),
            [str(item) for item in self.settings.get("labels", [])],
        )
        try:
            self.resources.http.post_json(f"{base}/rest/api/2/issue", body, headers)
        except DeliveryError as exc:
            if exc.retryable:
                self._uncertain.add(alert_id)
            raise
        self._uncertain.discard(alert_id)

    def _exists(self, base: str, headers: Mapping[str, str], name: str) -> bool:
        """True if an issue with the alert's label exists already."""
        query = urllib.parse.urlencode({"jql": f'labels = "{name}"', "maxResults": "1", "fields": "key"})
        response = self.resources.http.request("GET", f"{base}/rest/api/2/search?{query}", None, headers)
        return int(response.json().get("total", 0)) > 0


def _basic_auth(fields: Mapping[str, str], output: Output) -> str:
    """Return the Basic authorization header value from the secret's username and token."""
    user = output.secret_field(fields, "username")
    token = fields.get("api_token") or output.secret_field(fields, "password")
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
