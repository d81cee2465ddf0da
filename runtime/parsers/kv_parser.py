"""Parse key-value payloads like ``user=alice msg="a b=c" n=1``: one record per line.

Options: ``delimiter`` between pairs (a space; a list gives several, e.g. auditd's space and the 0x1D byte
before its interpreted fields), ``separator`` between key and value (``=``),
``quotechars`` that may enclose a value containing delimiters or separators (``"'``; a backslash
escapes the quote inside). A token without a separator is a parse error. A key given more than once keeps
every value, as a list in order (rules match any of them).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode, lines


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return one record per non-blank line of ``raw``."""
    pattern = pair_pattern(delimiters(options), str(options.get("separator", "=")), str(options.get("quotechars", "\"'")))
    return [_record(pattern, line, number) for number, line in lines(decode(raw))]


def delimiters(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The ``delimiter`` option as a tuple: one string, or a list of them."""
    value = options.get("delimiter", " ")
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else (str(value),)


@functools.lru_cache(maxsize=32)
def pair_pattern(delimiters: tuple[str, ...], separator: str, quotes: str) -> re.Pattern[str]:
    """Compile the pair pattern: key, separator, then a quoted or a bare value up to the next delimiter."""
    if not delimiters or not all(delimiters) or not separator:
        raise ParseError("the kv parser needs a non-empty delimiter and separator")
    d, s = "|".join(re.escape(d) for d in sorted(delimiters, key=len, reverse=True)), re.escape(separator)
    quoted = "|".join(rf"{re.escape(q)}(?P<q{i}>(?:[^{re.escape(q)}\\]|\\.)*){re.escape(q)}" for i, q in enumerate(quotes))
    bare = rf"(?P<bare>(?:(?!{d}).)*)"
    value = f"(?:{quoted}|{bare})" if quoted else bare
    return re.compile(rf"(?:{d})*(?P<key>(?:(?!{d}|{s}).)+){s}{value}(?=(?:{d})|$)", re.DOTALL)


def _record(pattern: re.Pattern[str], line: str, number: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    position = 0
    while position < len(line):
        found = pattern.match(line, position)
        if found is None:
            rest = line[position:].strip()
            if not rest:
                break
            raise ParseError(f"line {number}: no key and separator in {rest[:40]!r}")
        key, value = found["key"].strip(), _value(found)
        earlier = record.get(key)
        if earlier is None:
            record[key] = value
        elif isinstance(earlier, list):  # values are text: a list here is one this loop made
            earlier.append(value)
        else:  # a repeated key keeps every value: `a=evil a=benign` must not hide `evil`
            record[key] = [earlier, value]
        position = found.end()
    if not record:
        raise ParseError(f"line {number}: no key-value pairs")
    return record


def _value(found: re.Match[str]) -> str:
    """The matched value, unescaped when it was quoted."""
    for name, text in found.groupdict().items():
        if name.startswith("q") and text is not None:
            return re.sub(r"\\(.)", r"\1", text)
    return found["bare"] or ""
