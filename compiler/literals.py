"""How rule and schema text reaches generated code: only as literals, escaped comments and checked names.

Everything the compiler writes into a generated module that came from a rule, a schema or a file name
goes through one of these: `literal` (plain data as a Python literal), `number`, `comment_text` (a
comment or docstring that no character can end) and `identifier` (a name written as code, checked).
"""

from __future__ import annotations

import math
from typing import Any

from dsl.python_hooks import is_plain_identifier


def literal(value: Any) -> str:
    """A deterministic Python literal for plain data (dict keys in sorted order).

    Only plain data is written: anything else (a date from YAML, an object) is refused rather than
    written with a `repr` that may not be a literal. Non-finite floats become `float('inf')`-style
    calls, since `repr` gives the bare names `inf` and `nan`.
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float):
        return number(value)
    if value is None or isinstance(value, str | bool | int):
        return repr(value)
    raise TypeError(f"not plain data, cannot be written as a literal: {type(value).__name__}")


def identifier(name: str) -> str:
    """`name`, checked to be a plain identifier before it is written as code (the loader refuses others
    with a diagnostic; this guards the generator itself)."""
    if not is_plain_identifier(name):
        raise ValueError(f"not a plain Python identifier, refusing to write it as code: {name!r}")
    return name


def number(value: int | float) -> str:
    """A number as a Python expression: `repr`, except the non-finite floats (`float('-inf')`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def comment_text(text: str) -> str:
    r"""`text` for a comment or docstring: printable characters kept, every other one escaped.

    Line breaks of every kind (`\n`, `\r`, U+2028...), NUL, other control and format characters become
    `\x..`/`\u....` escapes, and quotes and backslashes are escaped too, so the text can end neither the
    comment nor a docstring around it. Generated modules carry rule text only through this and `literal`.

    >>> print(comment_text('Root\nimport os  # "\u2028" \\ é'))
    Root\x0aimport os  # \x22\u2028\x22 \\ é
    """
    return "".join(c if c.isprintable() and c not in _ESCAPED else _escape(c) for c in text)


_ESCAPED = {"\\": "\\\\", '"': "\\x22", "'": "\\x27"}


def _escape(char: str) -> str:
    if char in _ESCAPED:
        return _ESCAPED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
