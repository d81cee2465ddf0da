"""The options each parser reads, and `problems(config)`: what is wrong with a parser config.

`sigil compile` reports these for every schema, so a misspelt or unusable option is an error at build
time rather than records quarantined in the Lambda. Values are checked with the parsers' own code
(their pattern compilers, records paths, formats).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runtime.parsers import kv_parser, paths, regex_parser, syslog_parser
from runtime.parsers.errors import ParseError

ENVELOPE = frozenset({"envelope_keys", "envelope_field"})
OPTIONS: dict[str, frozenset[str]] = {
    "json": frozenset({"records", "embedded_json", "json_regex_key", "layout"}) | ENVELOPE,
    "csv": frozenset({"delimiter", "quotechar", "escapechar", "strict", "columns", "header", "nested_columns", "records"})
    | ENVELOPE,
    "kv": frozenset({"delimiter", "separator", "quotechars"}),
    "syslog": frozenset({"format"}),
    "regex": frozenset({"pattern", "flags", "partial", "skip"}),
    "xml_event": frozenset(),
}
LAYOUTS = ("evtx",)


def problems(config: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """``(option or None, message)`` for each problem of ``config`` (which holds ``type``); [] when usable.

    >>> problems({"type": "regex", "pattern": "(?P<a>x)", "skp": "^#"})
    [('skp', "unknown option 'skp' of the regex parser")]
    >>> problems({"type": "json", "records": "Records"})
    [('records', "records path 'Records' must select a list with [*]")]
    """
    kind = config.get("type")
    known = OPTIONS.get(kind)  # type: ignore[arg-type]
    if known is None:
        return [(None, f"unknown parser type {kind!r}")]
    found: list[tuple[str | None, str]] = [
        (name, f"unknown option {name!r} of the {kind} parser") for name in config if name != "type" and name not in known
    ]
    for check in CHECKS.get(kind, ()):  # type: ignore[arg-type]
        try:
            check(config)
        except BadOption as exc:
            found.append((exc.option, exc.message))
    return found


class BadOption(Exception):
    """An option whose value the parser cannot use."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option, self.message = option, message


def _records(config: Mapping[str, Any]) -> None:
    if "records" in config:
        try:
            paths.split(str(config["records"]))
        except ParseError as exc:
            raise BadOption("records", str(exc)) from None


def _envelope(config: Mapping[str, Any]) -> None:
    keys = config.get("envelope_keys")
    if keys is not None and not isinstance(keys, list | Mapping | str):
        raise BadOption("envelope_keys", "envelope_keys must be a list of field names")
    if not isinstance(config.get("envelope_field", ""), str):
        raise BadOption("envelope_field", "envelope_field must be a field name ('' merges the keys in)")


def _layout(config: Mapping[str, Any]) -> None:
    if "layout" in config and config["layout"] not in LAYOUTS:
        raise BadOption("layout", f"unknown layout {config['layout']!r} (known: {', '.join(LAYOUTS)})")


def _csv(config: Mapping[str, Any]) -> None:
    for name, default in (("delimiter", ","), ("quotechar", '"'), ("escapechar", None)):
        value = config.get(name, default)
        if value is not None and (not isinstance(value, str) or len(value) != 1):
            raise BadOption(name, f"{name} must be one character, not {value!r}")
    columns = config.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise BadOption("columns", "columns must be a list of field names")
    if not columns and not config.get("header"):
        raise BadOption("columns", "the csv parser needs 'columns' or 'header: true'")
    nested = config.get("nested_columns") or {}
    if not isinstance(nested, Mapping) or not all(isinstance(v, list) for v in nested.values()):
        raise BadOption("nested_columns", "nested_columns must map a column to the list of its field names")


def _kv(config: Mapping[str, Any]) -> None:
    try:
        kv_parser.pair_pattern(kv_parser.delimiters(config), str(config.get("separator", "=")), str(config.get("quotechars", "\"'")))
    except ParseError as exc:
        raise BadOption("delimiter" if not config.get("delimiter", " ") else "separator", str(exc)) from None


def _syslog(config: Mapping[str, Any]) -> None:
    form = str(config.get("format", "auto")).lower()
    if form not in syslog_parser.FORMATS:
        raise BadOption("format", f"unknown syslog format {form!r} (known: {', '.join(syslog_parser.FORMATS)})")


def _regex(config: Mapping[str, Any]) -> None:
    flags = config.get("flags") or ()
    if not isinstance(flags, list | tuple):
        raise BadOption("flags", "flags must be a list of names such as IGNORECASE")
    try:
        regex_parser.compile_pattern(str(config.get("pattern") or ""), tuple(flags))
    except ParseError as exc:
        raise BadOption("flags" if "flag" in str(exc) else "pattern", str(exc)) from None
    if config.get("skip"):
        try:
            regex_parser.compile_pattern(str(config["skip"]), (), groups=False)
        except ParseError as exc:
            raise BadOption("skip", str(exc)) from None


CHECKS: dict[str, tuple[Callable[[Mapping[str, Any]], None], ...]] = {
    "json": (_records, _envelope, _layout),
    "csv": (_csv, _records, _envelope),
    "kv": (_kv,),
    "syslog": (_syslog,),
    "regex": (_regex,),
    "xml_event": (),
}
