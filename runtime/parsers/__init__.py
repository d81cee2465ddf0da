"""Parsers: ``parse(raw: bytes, options: Mapping) -> list[dict]``, registered by schema parser type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runtime.parsers import json_parser
from runtime.parsers.errors import ParseError

Parser = Callable[[bytes, Mapping[str, Any]], list[dict[str, Any]]]

PARSERS: dict[str, Parser] = {
    "json": json_parser.parse,
}

__all__ = ["PARSERS", "ParseError", "Parser", "parse"]


def parse(raw: bytes, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Parse ``raw`` with the parser named by ``config["type"]``, passing the whole config as options."""
    parser = PARSERS.get(config.get("type", ""))
    if parser is None:
        raise ParseError(f"unknown parser type {config.get('type')!r}")
    return parser(raw, config)
