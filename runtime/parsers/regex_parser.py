"""Parse lines with a regular expression: each line must match ``pattern``; its named groups are the fields.

Options: ``pattern`` (required), ``flags`` (``IGNORECASE``, ``MULTILINE``, ``DOTALL`` or ``I``, ``M``, ``S``), ``partial: true`` to search
for the pattern in the line instead of matching the whole line, ``skip`` (a pattern searched in each
line: a line it finds is a header or comment and gives no record, e.g. the ``version account-id ...``
line opening VPC flow log files in S3). Groups that did not take part in the match are left out of the
record. Patterns run on RE2 (runtime/regex.py), in time linear in the line: one hostile line cannot stall
a batch, and what RE2 cannot run is refused when the schema is checked (S012).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode, lines
from runtime.regex import Regex, RegexError, compile_regex


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return one record per non-blank line of ``raw``."""
    pattern = compile_pattern(str(options.get("pattern") or ""), tuple(options.get("flags") or ()))
    whole = not options.get("partial")
    skip = compile_pattern(str(options["skip"]), (), groups=False).search if options.get("skip") else None
    records = []
    for number, line in lines(decode(raw)):
        if skip is not None and skip(line):
            continue
        found = pattern.groups(line, whole)
        if found is None:
            raise ParseError(f"line {number} does not match the pattern: {line[:60]!r}")
        records.append(found)
    return records


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str, flags: tuple[str, ...], groups: bool = True) -> Regex:
    if not pattern:
        raise ParseError("the regex parser needs a 'pattern'")
    letters = ""
    for name in flags:
        letter = FLAGS.get(str(name).upper())
        if letter is None:
            raise ParseError(f"unknown regex flag {name!r}")
        letters += letter
    try:
        compiled = compile_regex(pattern, letters, captures=groups)
    except RegexError as exc:
        reason = exc.message.removeprefix("invalid regular expression: ") + (f" ({exc.hint})" if exc.hint else "")
        raise ParseError(f"invalid {'pattern' if groups else 'skip pattern'}: {reason}") from None
    if groups and not compiled.names:
        raise ParseError("the pattern has no named groups")
    return compiled


# The flags RE2 has, by the names of Python's re (a schema written for re keeps working).
FLAGS = {"IGNORECASE": "i", "I": "i", "MULTILINE": "m", "M": "m", "DOTALL": "s", "S": "s"}
