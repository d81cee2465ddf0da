"""Parsers: ``parse(raw: bytes, options: Mapping, header: bytes | None) -> list[dict]``, by schema parser type.

``header`` is the first line of the object a line was streamed from (CSV header rows); the other
parsers ignore it. Every parser raises ParseError for a payload it cannot turn into records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runtime.parsers import csv_parser, json_parser, kv_parser, regex_parser, syslog_parser, xml_event
from runtime.parsers.errors import ParseError

Parser = Callable[[bytes, Mapping[str, Any], bytes | None], list[dict[str, Any]]]

PARSERS: dict[str, Parser] = {
    "json": json_parser.parse,
    "csv": csv_parser.parse,
    "kv": kv_parser.parse,
    "syslog": syslog_parser.parse,
    "regex": regex_parser.parse,
    "xml_event": xml_event.parse,
}

__all__ = ["PARSERS", "ParseError", "Parser", "parse"]


def parse(raw: bytes, config: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Parse ``raw`` with the parser named by ``config["type"]``, passing the whole config as options."""
    parser = PARSERS.get(config.get("type", ""))
    if parser is None:
        raise ParseError(f"unknown parser type {config.get('type')!r}")
    return parser(raw, config, header)
