"""Parse syslog lines, RFC 3164 (BSD) and RFC 5424, into one record per line.

Fields: ``priority``, ``facility``, ``severity`` (when a ``<PRI>`` is present), ``timestamp``,
``host``, ``application``, ``pid``, ``message``; RFC 5424 adds ``version``, ``msgid`` and
``structured_data`` (``{sd-id: {param: value}}``); its nil value ``-`` reads as None.
Option ``format``: ``rfc3164``, ``rfc5424`` or ``auto`` (the default: by the shape of each line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode, lines

RFC3164 = re.compile(
    r"(?:<(?P<priority>\d{1,3})>)?"
    r"(?P<timestamp>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) "
    r"(?P<host>\S+) "
    r"(?:(?P<application>[^\s:\[\]]+)(?:\[(?P<pid>[^\]]*)\])?: ?)?"
    r"(?P<message>.*)",
    re.DOTALL,
)
SD_ELEMENT = r'\[(?:[^\]"\\]|"(?:[^"\\]|\\.)*")*\]'
RFC5424 = re.compile(
    r"<(?P<priority>\d{1,3})>(?P<version>\d{1,2}) "
    r"(?P<timestamp>\S+) (?P<host>\S+) (?P<application>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    rf"(?P<structured_data>-|(?:{SD_ELEMENT})+)"
    r"(?: (?P<message>.*))?",
    re.DOTALL,
)
SD_PARTS = re.compile(r'\[(?P<id>[^\s\]"=]+)(?P<params>(?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*")*)\s*\]')
SD_PARAM = re.compile(r'(?P<name>[^\s=\]"]+)="(?P<value>(?:[^"\\]|\\.)*)"')
NIL = "-"
FORMATS = ("auto", "rfc3164", "rfc5424")


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return one record per non-blank line of ``raw``."""
    form = str(options.get("format", "auto")).lower()
    if form not in FORMATS:
        raise ParseError(f"unknown syslog format {form!r} (known: {', '.join(FORMATS)})")
    return [_line(line, number, form) for number, line in lines(decode(raw))]


def _line(line: str, number: int, form: str) -> dict[str, Any]:
    if form == "rfc5424" or (form == "auto" and _is_5424(line)):
        found = RFC5424.fullmatch(line)
        if found is None:
            raise ParseError(f"line {number} is not RFC 5424 syslog: {line[:60]!r}")
        return _rfc5424(found)
    found = RFC3164.fullmatch(line)
    if found is None:
        raise ParseError(f"line {number} is not RFC 3164 syslog: {line[:60]!r}")
    record = {name: value for name, value in found.groupdict().items() if value is not None}
    return _with_priority(record)


def _is_5424(line: str) -> bool:
    """RFC 5424 lines start with ``<PRI>VERSION `` (a digit after the ``>``)."""
    close = line.find(">", 1, 6)
    return line.startswith("<") and close > 0 and line[close + 1 : close + 2].isdigit()


def _rfc5424(found: re.Match[str]) -> dict[str, Any]:
    record: dict[str, Any] = {
        name: (None if value == NIL else value) for name, value in found.groupdict().items()
    }
    record["version"] = int(found["version"])
    record["structured_data"] = _structured(found["structured_data"])
    message = found["message"]
    record["message"] = message.removeprefix("\ufeff") if message is not None else ""
    return _with_priority(record)


def _structured(text: str) -> dict[str, dict[str, str]]:
    """Parse ``[id k="v" ...][id2 ...]`` into ``{id: {k: v}}`` (escapes ``\\"``, ``\\\\``, ``\\]`` undone)."""
    if text == NIL:
        return {}
    return {
        element["id"]: {
            param["name"]: re.sub(r"\\([\"\\\]])", r"\1", param["value"])
            for param in SD_PARAM.finditer(element["params"])
        }
        for element in SD_PARTS.finditer(text)
    }


def _with_priority(record: dict[str, Any]) -> dict[str, Any]:
    """Split ``priority`` into ``facility`` and ``severity``."""
    if record.get("priority") is not None:
        priority = int(record["priority"])
        record.update(priority=priority, facility=priority // 8, severity=priority % 8)
    return record
