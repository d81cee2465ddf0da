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


WIDTH = 100  # the width literal_lines keeps to, where a single element allows it
INDENT = "    "


def literal_lines(value: Any, width: int = WIDTH) -> list[str]:
    r"""`literal(value)` over several lines when it is wider than `width`: one element or dict entry per
    line (indented by four spaces, each followed by a comma), and a long string as adjacent string
    literals in parentheses (Python joins them when it compiles the module: still one constant).

    >>> literal_lines(["ab", "cd"], width=10)
    ['[', "    'ab',", "    'cd',", ']']
    >>> literal_lines("abcdefghij", width=10)
    ['(', "    'abcd'", "    'efgh'", "    'ij'", ')']
    """
    text = literal(value)
    if len(text) <= width:
        return [text]
    inner = width - len(INDENT)
    if isinstance(value, str):
        return ["(", *(INDENT + repr(chunk) for chunk in string_chunks(value, inner)), ")"]
    if isinstance(value, dict):
        entries = [(literal(k) + ": ", v) for k, v in sorted(value.items())]
        return ["{", *(line for head, v in entries for line in _entry(head, v, inner)), "}"]
    if isinstance(value, list | tuple):
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ")")
        return [opening, *(line for v in value for line in _entry("", v, inner)), closing]
    return [text]  # a number, None or a bool: never wider than `width` in practice


def _entry(head: str, value: Any, width: int) -> list[str]:
    lines = literal_lines(value, width - len(head) - 1)
    if len(lines) > 1 and len(head) + len(lines[0]) > width and isinstance(value, str):
        lines = literal_lines(value, width)  # the key's length left no room: the chunks go under it
    lines[0] = head + lines[0]
    lines[-1] += ","
    return [INDENT + line for line in lines]


def string_chunks(value: str, width: int) -> list[str]:
    """`value` cut into pieces whose `repr` is at most `width` characters (at least one character each)."""
    chunks, start = [], 0
    while start < len(value):
        end = start + 1
        size = len(repr(value[start:end]))
        while end < len(value):
            grown = size + len(repr(value[end])) - 2
            if grown > width:
                break
            size, end = grown, end + 1
        if end < len(value):  # end the piece after a space when there is one in its second half
            space = value.rfind(" ", start + (end - start) // 2, end)
            end = space + 1 if space >= 0 else end
        chunks.append(value[start:end])
        start = end
    return chunks or [""]
