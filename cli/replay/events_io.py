"""Read events for replay: JSON lines, a JSON array, concatenated JSON objects, gzip of any, or stdin."""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runtime.parsers.json_parser import DECODER


class EventsError(Exception):
    """An events file that cannot be read; the message says where."""


def read_bytes(path: str) -> bytes:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise EventsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise EventsError(f"{path}: broken gzip data: {exc}") from None
    return data


def json_documents(text: str, path: str) -> Iterator[Any]:
    """Every top-level JSON value of ``text`` (JSON lines, concatenated or pretty-printed), in order;
    ``path`` names the file in errors. A repeated key keeps every value, as the Lambda's JSON parser does."""
    decoder = DECODER
    index, length = 0, len(text)
    while True:
        while index < length and text[index].isspace():
            index += 1
        if index >= length:
            return
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise EventsError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise EventsError(f"{path}: invalid JSON: nested too deeply") from None
        except ValueError:  # a number past Python's int conversion limit
            raise EventsError(f"{path}: invalid JSON: a number of more than {sys.get_int_max_str_digits()} digits") from None
        yield value
