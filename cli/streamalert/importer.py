"""StreamAlert schemas and data_sources as Sigil's (`sigil schemas import-streamalert CONF_DIR [--out DIR]`).

Reads ``CONF_DIR/schemas/*.json`` (or the older single ``CONF_DIR/logs.json``) and writes one YAML file of
Sigil schemas per StreamAlert file, each log type keeping its ``source:subtype`` name; reads the
``data_sources`` of ``CONF_DIR/clusters/*.json`` and writes ``sources.json``, the runtime's source map,
with StreamAlert's log prefixes expanded into the full log type names. Output is sorted and stable, so a
re-import diffs cleanly. See docs/migrating-from-streamalert.md for the mapping of every option.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compiler.codegen import module_name
from compiler.literals import comment_text
from dsl.diagnostics import Diagnostic, Loc, error, warning
from runtime.contract import SOURCES_FILE

HEADER = "# Imported from StreamAlert"
SA_ENVELOPE = "streamalert:envelope_keys"  # where StreamAlert puts envelope keys (and log_patterns name them)
ENVELOPE_FIELD = "envelope"  # where our json parser puts them (runtime.parsers.json_parser default)
DEFAULT_PRIORITY = 100  # compiler.schemas gives this to log types without one
SCALAR_TYPES = ("string", "integer", "float", "boolean")
KNOWN_KEYS = frozenset({"parser", "schema", "configuration"})
KNOWN_OPTIONS = frozenset(
    {
        "optional_top_level_keys", "log_patterns", "priority", "json_path", "embedded_json", "json_regex_key",
        "envelope_keys", "optional_envelope_keys", "delimiter", "separator", "quotechar", "escapechar",
        "normalization",
    }
)  # fmt: skip
PARSER_OPTIONS = {"json": (), "csv": ("delimiter", "quotechar", "escapechar"), "kv": ("delimiter", "separator"), "syslog": ()}
RUNTIME_GAPS = {
    "json_regex_key": "the json parser does not yet pull a JSON blob out of a field (json_regex_key)",
    "csv_records": "the csv parser does not yet read CSV rows out of JSON documents (records, envelope_keys)",
    "nested_columns": "the csv parser does not yet parse a column as nested CSV (nested_columns)",
    "jmespath": "the json parser does not evaluate JMESPath (jmespath)",
}


class UnsupportedPath(ValueError):
    """A JMESPath expression that has no equivalent records path."""


@dataclass(frozen=True)
class ImportedLog:
    """One StreamAlert log type as a Sigil schema document."""

    name: str
    document: dict[str, Any]
    origin: str  # the StreamAlert file, relative to the parent of CONF_DIR


@dataclass(frozen=True)
class ImportResult:
    """What an import produced: schema files (name → log types), the source map, and diagnostics."""

    files: dict[str, tuple[ImportedLog, ...]]
    sources: dict[str, dict[str, list[str]]]
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def log_types(self) -> list[str]:
        return sorted(log.name for logs in self.files.values() for log in logs)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


# --- JMESPath ------------------------------------------------------------------------------------------

_JMES_TOKEN = re.compile(r'\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<each>\[\s*\*\s*\])|(?P<dot>\.))')
_JMES_NEXT = {"start": ("name", "quoted", "each"), "dot": ("name", "quoted"), "item": ("dot", "each")}
_JMES_UNSUPPORTED = (
    (re.compile(r"\[\?"), "a filter expression [?...]"),
    (re.compile(r"\[\s*-?\d*\s*:"), "a slice [a:b]"),
    (re.compile(r"\[\s*-?\d+\s*\]"), "an index [n]"),
    (re.compile(r"\[\s*\]"), "a flatten []"),
    (re.compile(r"\|\|?|&&|!|[<>=]=?"), "an operator or pipe"),
    (re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\s*)?\("), "a function call or parentheses"),
    (re.compile(r"\{"), "a multiselect hash {...}"),
    (re.compile(r"\["), "a multiselect list [...]"),
    (re.compile(r"@"), "the current node @"),
    (re.compile(r"`|'"), "a literal"),
    (re.compile(r"\*"), "an object wildcard *"),
)


def jmespath_records(expression: str) -> str:
    """Convert a JMESPath like ``Records[*]`` or ``logEvents[*].extractedFields`` to a records path.

    Identifiers (bare or quoted), ``.`` and ``[*]`` convert; anything else raises UnsupportedPath
    naming it, as does a path without ``[*]`` (it selects one value, and records paths select a list).
    """
    parts: list[str] = []
    position, state = 0, "start"
    while position < len(expression.rstrip()):
        found = _JMES_TOKEN.match(expression, position)
        kind = found.lastgroup if found else None
        if kind not in _JMES_NEXT[state]:
            raise UnsupportedPath(_unsupported(expression, position))
        if kind == "quoted" and ("[*]" in found["quoted"] or "\\" in found["quoted"]):
            raise UnsupportedPath(f"the quoted key {found[0].strip()} cannot be written in a records path")
        parts.append({"name": found["name"], "quoted": found["quoted"], "each": "[*]", "dot": "."}[kind])
        state = "dot" if kind == "dot" else "item"
        position = found.end()
    if state == "dot":
        raise UnsupportedPath("it ends with a '.'")
    path = "".join(parts)
    if "[*]" not in path:
        raise UnsupportedPath("it selects a single value; a records path must select a list with [*]")
    return path


def _unsupported(expression: str, position: int) -> str:
    rest = expression[position:].lstrip()
    for pattern, what in _JMES_UNSUPPORTED:
        if pattern.match(rest):
            return f"it uses {what} at {rest[:20]!r}"
    return f"it cannot be read at {rest[:20]!r}"


# --- one log type --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LogConverter:
    """Convert one StreamAlert log entry ``{parser, schema, configuration}`` to a Sigil schema document."""

    name: str
    spec: Mapping[str, Any]
    loc: Loc
    diags: list[Diagnostic] = field(default_factory=list)

    @property
    def schema(self) -> Mapping[str, Any]:
        return self.spec.get("schema") or {}

    @property
    def config(self) -> Mapping[str, Any]:
        return self.spec.get("configuration") or {}

    def warn(self, code: str, message: str, hint: str | None = None) -> None:
        self.diags.append(warning(code, f"{self.name}: {message}", self.loc, hint))

    def fail(self, code: str, message: str, hint: str | None = None) -> None:
        self.diags.append(error(code, f"{self.name}: {message}", self.loc, hint))

    def convert(self) -> dict[str, Any] | None:
        kind = self.spec.get("parser")
        if kind not in PARSER_OPTIONS:
            self.fail("SA01", f"unknown StreamAlert parser {kind!r}", "StreamAlert parsers: " + ", ".join(PARSER_OPTIONS))
            return None
        if not isinstance(self.schema, Mapping) or not self.schema:
            self.fail("SA02", "'schema' must be a non-empty map of field names to types")
            return None
        self.check_keys()
        source, _, subtype = self.name.partition(":")
        doc: dict[str, Any] = {
            "name": self.name,
            "description": f"StreamAlert log type {self.name} ({kind} parser)",
            "parser": self.parser(kind),
            "classify": self.classify(),
            "logsources": [{"product": source, "service": subtype} if subtype else {"product": source}],
            "fields": self.fields(),
        }
        if self.config.get("normalization"):
            doc["normalization"] = self.config["normalization"]
            self.warn("SA20", "normalization is kept in the schema, but nothing applies it yet")
        return doc

    def check_keys(self) -> None:
        for key in sorted(set(self.spec) - KNOWN_KEYS):
            self.warn("SA03", f"unknown key '{key}' is ignored")
        for key in sorted(set(self.config) - KNOWN_OPTIONS):
            self.warn("SA04", f"unknown configuration option '{key}' is ignored")
        for key in ("optional_top_level_keys", "optional_envelope_keys"):
            schema = self.schema if key.endswith("top_level_keys") else self.envelope_schema
            for name in sorted(set(self.config.get(key) or ()) - set(schema)):
                self.warn("SA05", f"{key} names '{name}', which the schema lacks", "StreamAlert rejects such a schema")

    # parser

    @property
    def envelope_schema(self) -> Mapping[str, Any]:
        return self.config.get("envelope_keys") or {}

    @property
    def envelope_field(self) -> str:
        return SA_ENVELOPE if ENVELOPE_FIELD in self.schema else ENVELOPE_FIELD

    def parser(self, kind: str) -> dict[str, Any]:
        options: dict[str, Any] = {"type": kind}
        for key in PARSER_OPTIONS[kind]:
            if key in self.config:
                options[key] = str(self.config[key])
        if kind == "json":
            options.update(self.json_options())
        elif kind == "csv":
            options.update(self.csv_options())
        elif kind == "kv":
            options["quotechars"] = ""  # StreamAlert splits on the delimiter and knows no quoting
        elif kind == "syslog":
            options["format"] = "rfc3164"
        if self.envelope_schema and kind in ("json", "csv"):
            options["envelope_keys"] = sorted(self.envelope_schema)
            if self.envelope_field != ENVELOPE_FIELD:
                options["envelope_field"] = self.envelope_field
        return {"type": kind, **dict(sorted((k, v) for k, v in options.items() if k != "type"))}

    def records(self) -> dict[str, Any]:
        expression = self.config.get("json_path")
        if not expression:
            return {}
        try:
            return {"records": jmespath_records(str(expression))}
        except UnsupportedPath as exc:
            self.warn("SA10", f"json_path {expression!r} has no records path equivalent: {exc}", RUNTIME_GAPS["jmespath"])
            return {"jmespath": str(expression)}

    def json_options(self) -> dict[str, Any]:
        options = self.records()
        if self.config.get("embedded_json"):
            options["embedded_json"] = True
        if self.config.get("json_regex_key"):
            if self.config.get("json_path"):
                self.warn("SA11", "json_regex_key is ignored when json_path is set (as in StreamAlert)")
            else:
                options["json_regex_key"] = str(self.config["json_regex_key"])
                self.warn("SA12", "json_regex_key is imported but not yet supported", RUNTIME_GAPS["json_regex_key"])
        return options

    def csv_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"columns": [str(key) for key in self.schema]}
        nested = _nested_columns(self.schema)
        if nested:
            options["nested_columns"] = nested
            self.warn("SA13", "nested CSV columns are imported but not yet supported", RUNTIME_GAPS["nested_columns"])
        options.update(self.records())
        if self.config.get("json_path") or self.envelope_schema:
            self.warn("SA14", "CSV inside JSON is imported but not yet supported", RUNTIME_GAPS["csv_records"])
        return options

    # classification

    def classify(self) -> dict[str, Any]:
        out: dict[str, Any] = {"required": self.required()}
        patterns = self.patterns()
        if patterns:
            out["patterns"] = patterns
        priority = self.config.get("priority")
        if priority is not None:
            out["priority"] = int(priority)
            if int(priority) >= DEFAULT_PRIORITY:
                self.warn("SA15", f"priority {priority} sorts after log types without one (they get {DEFAULT_PRIORITY})")
        return out

    def required(self) -> list[str]:
        optional = set(self.config.get("optional_top_level_keys") or ())
        paths = [key for key in self.schema if key not in optional]
        paths += [f"{key}.{sub}" for key in paths if isinstance(self.schema[key], Mapping) for sub in _nested_keys(self.schema[key])]
        envelope_optional = set(self.config.get("optional_envelope_keys") or ())
        paths += [f"{self.envelope_field}.{key}" for key in self.envelope_schema if key not in envelope_optional]
        return sorted(str(path) for path in paths)

    def patterns(self) -> dict[str, list[str]]:
        patterns = self.config.get("log_patterns") or {}
        flat: dict[str, list[str]] = {}
        _flatten_patterns(patterns, "", flat, self.envelope_field)
        known = set(_nested_keys(self.schema)) | {f"{self.envelope_field}.{key}" for key in self.envelope_schema}
        open_keys = {path for path in known if _is_open(self.schema, path)}
        for path in sorted(p for p in flat if p not in known and not any(p.startswith(k + ".") for k in open_keys)):
            same = sorted(k for k in known if k.rsplit(".", 1)[-1] == path.rsplit(".", 1)[-1])
            hint = f"did you mean {' or '.join(same)}?" if same else None
            self.warn("SA16", f"log_patterns names '{path}', which the schema lacks: no record can match", hint)
        return dict(sorted(flat.items()))

    # fields

    def fields(self) -> dict[str, Any]:
        fields = self.field_types(self.schema, "")
        if self.envelope_schema:
            fields[self.envelope_field] = {"type": "object", "fields": self.field_types(self.envelope_schema, "envelope ")}
        return dict(sorted(fields.items()))

    def field_types(self, schema: Mapping[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, kind in sorted(schema.items(), key=lambda item: str(item[0])):
            if isinstance(kind, Mapping) and kind:
                out[str(key)] = {"type": "object", "fields": self.field_types(kind, where)}
            elif isinstance(kind, Mapping):
                out[str(key)] = "any"  # StreamAlert checks nothing about a value typed {}
            elif isinstance(kind, list):
                out[str(key)] = "list"
            elif kind in SCALAR_TYPES:
                out[str(key)] = kind
            else:
                self.fail("SA06", f"{where}field '{key}' has the unknown type {kind!r}", "StreamAlert types: " + ", ".join(SCALAR_TYPES) + ", {}, []")
                out[str(key)] = "any"
        return out


def _nested_keys(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths of every key in a nested StreamAlert schema (StreamAlert requires them all)."""
    out = []
    for key, kind in schema.items():
        out.append(prefix + str(key))
        if isinstance(kind, Mapping) and kind:
            out += _nested_keys(kind, f"{prefix}{key}.")
    return out


def _is_open(schema: Mapping[str, Any], path: str) -> bool:
    """Is the field at ``path`` typed ``{}`` or ``[]``, so that any path below it may exist?"""
    kind: Any = schema
    for part in path.split("."):
        kind = kind.get(part) if isinstance(kind, Mapping) else None
    return kind == {} or isinstance(kind, list)


def _nested_columns(schema: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Dotted path → column names, for each column of a CSV schema that is itself CSV."""
    out: dict[str, list[str]] = {}
    for key, kind in schema.items():
        if isinstance(kind, Mapping) and kind:
            out[f"{prefix}{key}"] = [str(sub) for sub in kind]
            out.update(_nested_columns(kind, f"{prefix}{key}."))
    return dict(sorted(out.items()))


def _flatten_patterns(patterns: Mapping[str, Any], prefix: str, out: dict[str, list[str]], envelope: str) -> None:
    """``{a: {b: [globs]}}`` → ``{"a.b": [globs]}``; StreamAlert's envelope key becomes our envelope field."""
    for key, value in patterns.items():
        name = envelope if not prefix and key == SA_ENVELOPE else str(key)
        if isinstance(value, Mapping):
            _flatten_patterns(value, f"{prefix}{name}.", out, envelope)
        else:
            out[prefix + name] = [str(v) for v in ([value] if isinstance(value, str) else value)]


# --- files ---------------------------------------------------------------------------------------------


def import_conf(conf_dir: str | Path) -> ImportResult:
    """Convert every StreamAlert schema under ``conf_dir`` and its clusters' data_sources."""
    conf = Path(conf_dir)
    diags: list[Diagnostic] = []
    files: dict[str, tuple[ImportedLog, ...]] = {}
    for path in _schema_files(conf):
        logs = _import_file(path, conf, diags)
        if logs:
            files[path.stem + ".yml"] = logs
    names = [log.name for logs in files.values() for log in logs]
    _check_names(names, conf, diags)
    sources = import_sources(conf, names, diags)
    return ImportResult(files, sources, tuple(diags))


def _schema_files(conf: Path) -> list[Path]:
    schemas = conf / "schemas"
    if schemas.is_dir():
        return sorted(schemas.glob("*.json"))
    return [conf / "logs.json"] if (conf / "logs.json").is_file() else []


def _import_file(path: Path, conf: Path, diags: list[Diagnostic]) -> tuple[ImportedLog, ...]:
    text = path.read_text(encoding="utf-8")
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        diags.append(error("SA00", f"not valid JSON: {exc.msg}", Loc(str(path), exc.lineno, exc.colno)))
        return ()
    if not isinstance(entries, Mapping):
        diags.append(error("SA00", "a StreamAlert schema file must map log names to schemas", Loc(str(path))))
        return ()
    origin = path.relative_to(conf.parent).as_posix()
    out = []
    for name in sorted(entries):
        converter = _LogConverter(name, entries[name] if isinstance(entries[name], Mapping) else {}, _locate(text, name, str(path)))
        document = converter.convert()
        diags.extend(converter.diags)
        if document is not None:
            out.append(ImportedLog(name, document, origin))
    return tuple(out)


def _locate(text: str, name: str, path: str) -> Loc:
    """The line of ``"name":`` in a schema file, for diagnostics."""
    found = re.search(rf'^(\s*)"{re.escape(name)}"\s*:', text, re.MULTILINE)
    if found is None:
        return Loc(path)
    return Loc(path, text.count("\n", 0, found.start()) + 1, len(found[1]) + 1)


def _check_names(names: list[str], conf: Path, diags: list[Diagnostic]) -> None:
    """Log type names must be unique, and so must the matcher module names they become."""
    where = Loc(str(conf / "schemas"))
    modules: dict[str, str] = {}
    for name in sorted(set(names)):
        if names.count(name) > 1:
            diags.append(error("SA07", f"log type '{name}' is defined in more than one file", where, "rename one of them"))
        other = modules.setdefault(module_name(name), name)
        if other != name:
            message = f"log types '{other}' and '{name}' would share the module name '{module_name(name)}'"
            diags.append(error("SA08", message, where, "rename one of them"))


def import_sources(conf: Path, names: list[str], diags: list[Diagnostic]) -> dict[str, dict[str, list[str]]]:
    """Merge the ``data_sources`` of every cluster: service → resource → the full log type names allowed."""
    out: dict[str, dict[str, set[str]]] = {}
    for path in sorted((conf / "clusters").glob("*.json")):
        data_sources = json.loads(path.read_text(encoding="utf-8")).get("data_sources") or {}
        for service, resources in sorted(data_sources.items()):
            for resource, prefixes in sorted((resources or {}).items()):
                allowed = out.setdefault(service, {}).setdefault(resource, set())
                for prefix in prefixes:
                    matched = [name for name in names if name.split(":")[0] == prefix]
                    if not matched:
                        diags.append(warning("SA30", f"{service}:{resource}: no log type has the prefix '{prefix}'", Loc(str(path))))
                    allowed.update(matched)
    return {service: {r: sorted(types) for r, types in sorted(rs.items())} for service, rs in sorted(out.items())}


def render_file(logs: tuple[ImportedLog, ...]) -> str:
    """The YAML text of one schema file: each log type a document under a header saying where it came from."""
    return "---\n".join(_render(log) for log in logs)


def _render(log: ImportedLog) -> str:
    header = (
        f"{HEADER} {comment_text(log.origin)}, log type {comment_text(log.name)},\n"
        "# by `sigil schemas import-streamalert`: re-import rather than edit, or delete this header to own the file.\n"
    )
    return header + yaml.safe_dump(log.document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def write(result: ImportResult, out: Path, force: bool = False) -> list[Path]:
    """Write the schema files and sources.json into ``out``; refuse to overwrite files not made by an import."""
    targets = {out / name: render_file(logs) for name, logs in result.files.items()}
    targets[out / SOURCES_FILE] = json.dumps(result.sources, indent=2, sort_keys=True) + "\n"
    clobbered = [p for p in targets if p.suffix == ".yml" and p.exists() and not _imported(p)]
    if clobbered and not force:
        raise FileExistsError(f"{clobbered[0]} was not written by an import (use --force to overwrite it)")
    out.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
    return list(targets)


def _imported(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return handle.readline().startswith(HEADER)
