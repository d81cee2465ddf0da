"""Parse lines with a regular expression: each line must match ``pattern``; its named groups are the fields.

Options: ``pattern`` (required), ``flags`` (names like ``IGNORECASE``), ``partial: true`` to search
for the pattern in the line instead of matching the whole line, ``skip`` (a pattern searched in each
line: a line it finds is a header or comment and gives no record, e.g. the ``version account-id ...``
line opening VPC flow log files in S3). Groups that did not take part in the match are left out of the
record.
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
    pattern = compile_pattern(str(options.get("pattern") or ""), tuple(options.get("flags") or ()))
    find = pattern.search if options.get("partial") else pattern.fullmatch
    skip = compile_pattern(str(options["skip"]), (), groups=False).search if options.get("skip") else None
    records = []
    for number, line in lines(decode(raw)):
        if skip is not None and skip(line):
            continue
        found = find(line)
        if found is None:
            raise ParseError(f"line {number} does not match the pattern: {line[:60]!r}")
        records.append({name: value for name, value in found.groupdict().items() if value is not None})
    return records


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str, flags: tuple[str, ...], groups: bool = True) -> re.Pattern[str]:
    if not pattern:
        raise ParseError("the regex parser needs a 'pattern'")
    value = 0
    for name in flags:
        flag = getattr(re.RegexFlag, str(name).upper(), None)
        if flag is None:
            raise ParseError(f"unknown regex flag {name!r}")
        value |= flag
    try:
        compiled = re.compile(pattern, value)
    except re.error as exc:
        raise ParseError(f"invalid {'pattern' if groups else 'skip pattern'}: {exc}") from None
    if groups and not compiled.groupindex:
        raise ParseError("the pattern has no named groups")
    return compiled
