"""Log type schemas: fields and types, parser options, classification hints, Sigma logsource mappings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.codegen import module_name
from dsl.ast import FieldItem, LogSource
from dsl.diagnostics import Diagnostic, Loc, did_you_mean, error, warning
from dsl.expr import Const, Expr, all_of, any_of
from dsl.modifiers import ModifierError, lower_item
from dsl.reader import DocumentReader
from dsl.yaml_source import YNode, load_documents
from runtime.parsers.options import OPTIONS as PARSER_OPTIONS
from runtime.parsers.options import problems as parser_problems

ALWAYS = Const(True)
FIELD_TYPES = ("string", "integer", "float", "boolean", "ip", "timestamp", "list", "any", "object")
OPEN_TYPES = ("any", "list")  # any sub-path below these is accepted
COERCED_TYPES = ("integer", "float", "boolean", "timestamp", "ip")  # the runtime converts text to these
PARSER_TYPES = ("json", "csv", "kv", "syslog", "regex", "xml_event")  # runtime.parsers.PARSERS
LOGSOURCE_KEYS = ("product", "category", "service")
# `normalization` is StreamAlert's, kept by `sigil schemas import-streamalert` (nothing applies it yet).
SCHEMA_KEYS = ("name", "description", "parser", "classify", "strict_fields", "logsources", "fields", "normalization", "timestamp")
CLASSIFY_KEYS = ("required", "priority", "patterns")
MAPPING_KEYS = (*LOGSOURCE_KEYS, "when", "fields", "field_prefix")


@dataclass(frozen=True)
class LogSourceMapping:
    """A Sigma logsource this log type serves, and the condition a record must meet to belong to it."""

    product: str | None
    category: str | None
    service: str | None
    when: Expr = ALWAYS
    fields: tuple[tuple[str, str], ...] = ()  # Sigma field name -> schema path, for this logsource only
    prefix: str = ""  # put before every field name `fields` does not rename (`detail.` for EventBridge)

    def rename(self, name: str) -> str:
        """The schema path a rule's field name reads under this logsource.

        >>> LogSourceMapping("aws", None, "guardduty", fields=(("type", "detail.type"),), prefix="detail.").rename("accountId")
        'detail.accountId'
        """
        return dict(self.fields).get(name, self.prefix + name)

    @property
    def renames(self) -> bool:
        """Whether any field name reads another path here."""
        return bool(self.fields or self.prefix)

    def keys(self) -> dict[str, str]:
        return {k: v for k in LOGSOURCE_KEYS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    parser: dict[str, Any]
    required: tuple[str, ...]
    priority: int
    fields: dict[str, str]  # dotted path -> type
    logsources: tuple[LogSourceMapping, ...]
    strict_fields: bool = True
    path: str = ""
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> globs, one must match
    timestamp: tuple[str, ...] = ()  # the event time: the first of these fields a record has (correlations)

    def knows(self, path: str) -> bool:
        if path in self.fields:
            return True
        parts = path.split(".")
        return any(self.fields.get(".".join(parts[:i])) in OPEN_TYPES for i in range(1, len(parts)))

    def runtime_view(self) -> dict[str, Any]:
        """What the Lambda's classifier needs, as plain JSON data."""
        return {
            "parser": dict(sorted(self.parser.items())),
            "required": list(self.required),
            "priority": self.priority,
            "hints": {k: list(v) for k, v in sorted(self.patterns.items())},
            "fields": {k: v for k, v in sorted(self.fields.items()) if v in COERCED_TYPES},
            "timestamp": list(self.timestamp),
        }


@dataclass
class SchemaSet:
    schemas: dict[str, Schema] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def for_logsource(self, logsource: LogSource) -> list[tuple[Schema, LogSourceMapping]]:
        """The log types (and their record conditions) that a rule's logsource selects."""
        wanted = {k: v for k in LOGSOURCE_KEYS if (v := getattr(logsource, k)) is not None}
        if not wanted:
            return []
        return [
            (schema, mapping)
            for schema in self.schemas.values()
            for mapping in schema.logsources
            if mapping.keys() == wanted
        ]

    def runtime_view(self) -> dict[str, Any]:
        """What `sigil compile` writes as schemas.json: `{"log_types": {name: Schema.runtime_view()}}`."""
        return {"log_types": {name: schema.runtime_view() for name, schema in sorted(self.schemas.items())}}

    def logsource_names(self) -> list[str]:
        return sorted(
            {" ".join(f"{k}={v}" for k, v in m.keys().items()) for s in self.schemas.values() for m in s.logsources}
        )


def load_schemas(directory: str | Path) -> SchemaSet:
    result = SchemaSet()
    if not Path(directory).is_dir():
        result.diagnostics.append(error("S000", f"schema directory {directory} not found", Loc(str(directory)), "--schemas DIR names a directory of log type files (default: schemas/)"))
        return result
    for path in sorted(Path(directory).glob("*.yml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.diagnostics.append(error("S000", f"cannot read schema file: {exc}", Loc(str(path))))
            continue
        docs, diags = load_documents(text, str(path))
        result.diagnostics.extend(diags)
        for doc in docs:
            schema = _SchemaReader(doc, result.diagnostics).read()
            if schema is None:
                continue
            if schema.name in result.schemas:
                result.diagnostics.append(error("S010", f"log type '{schema.name}' is defined twice", doc.loc))
                continue
            same_module = [n for n in result.schemas if module_name(n) == module_name(schema.name)]
            if same_module:
                message = f"log type '{schema.name}' would share the generated module '{module_name(schema.name)}' with '{same_module[0]}'"
                result.diagnostics.append(error("S010", message, doc.loc, "log type names must differ in more than punctuation and case"))
                continue
            result.schemas[schema.name] = schema
    return result


class _SchemaReader(DocumentReader):
    def read(self) -> Schema | None:
        doc = self.doc
        if doc.kind != "map":
            self.err("S001", "a schema must be a mapping", doc.loc)
            return None
        name = doc.get("name")
        if name is None or not isinstance(name.value, str):
            self.err("S002", "the schema has no 'name'", doc.loc)
            return None
        self.unknown_keys(doc, SCHEMA_KEYS, "a schema")
        parser = (doc.get("parser") or YNode([], doc.loc, "map")).plain()
        if not isinstance(parser, dict) or parser.get("type") not in PARSER_TYPES:
            self.err("S003", f"unknown parser {parser!r}", (doc.get("parser") or doc).loc, "parsers: " + ", ".join(PARSER_TYPES))
            return None
        self.parser_options(doc.get("parser"), parser)
        required, priority, patterns = self.classify(doc.get("classify"))
        fields: dict[str, str] = {}
        self.fields(doc.get("fields"), "", fields)
        strict = doc.get("strict_fields")
        if strict is not None and not isinstance(strict.value, bool):
            self.err("S014", "strict_fields must be true or false", strict.loc)
        return Schema(
            name=name.value,
            description=str((doc.get("description") or YNode("", doc.loc, "scalar")).value),
            parser=parser,
            required=required,
            priority=priority,
            fields=fields,
            logsources=tuple(self.logsources(doc.get("logsources"))),
            strict_fields=True if strict is None else strict.value is not False,
            path=doc.loc.path,
            patterns=patterns,
            timestamp=self.timestamp(doc.get("timestamp"), fields),
        )

    def timestamp(self, node: YNode | None, fields: dict[str, str]) -> tuple[str, ...]:
        """The event time's field paths (one, or a list tried in order), each a declared field (S015)."""
        if node is None:
            return ()
        paths = node.plain()
        paths = [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            self.err("S015", "timestamp must be a field path or a list of field paths", node.loc, "e.g. timestamp: eventTime")
            return ()
        unknown = [p for p in paths if p not in fields]
        if unknown:
            self.err("S015", f"timestamp field '{unknown[0]}' is not among the schema's fields", node.loc, did_you_mean(unknown[0], list(fields)))
            return ()
        return tuple(paths)

    def unknown_keys(self, node: YNode, known: tuple[str, ...], what: str, code: str = "S011") -> None:
        for key, key_loc, _ in node.value if node.kind == "map" else ():
            if key not in known:
                self.err(code, f"unknown key '{key}' in {what}", key_loc, did_you_mean(str(key), known) or "keys: " + ", ".join(known))

    def parser_options(self, node: YNode | None, parser: dict[str, Any]) -> None:
        """S012 for each option the parser does not read or cannot use, at the option."""
        known = sorted(PARSER_OPTIONS[parser["type"]])
        for option, message in parser_problems(parser):
            unknown = option is not None and option not in known
            value = node.get(option) if node is not None and option else None
            at_key = node.key_loc(option) if node is not None and option and unknown else None
            where = at_key or (value.loc if value is not None else None) or (node.loc if node else self.doc.loc)
            hint = (did_you_mean(option, known) or "options: " + ", ".join(known)) if unknown and option is not None else None
            self.err("S012", message, where, hint)

    def classify(self, node: YNode | None) -> tuple[tuple[str, ...], int, dict[str, tuple[str, ...]]]:
        """(required, priority, patterns) of `classify`, with S013 for each value of the wrong kind."""
        if node is None:
            return (), 100, {}
        if node.kind != "map":
            self.err("S013", "classify must be a mapping of required, priority and patterns", node.loc)
            return (), 100, {}
        self.unknown_keys(node, CLASSIFY_KEYS, "classify", "S013")
        required, priority, patterns = (), 100, {}
        if (found := node.get("required")) is not None:
            value = found.plain()
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                required = tuple(value)
            else:
                self.err("S013", "classify.required must be a list of field paths", found.loc)
        if (found := node.get("priority")) is not None:
            if isinstance(found.value, int) and not isinstance(found.value, bool):
                priority = found.value
            else:
                self.err("S013", f"classify.priority must be an integer, not {found.type_name()}", found.loc, "lower numbers are tried first")
        if (found := node.get("patterns")) is not None:
            value = found.plain()
            if isinstance(value, dict) and all(isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in value.values()):
                patterns = {k: tuple(v if isinstance(v, list) else [v]) for k, v in value.items()}
            else:
                self.err("S013", "classify.patterns must map field paths to a glob or a list of globs", found.loc)
        return required, priority, patterns

    def fields(self, node: YNode | None, prefix: str, out: dict[str, str]) -> None:
        if node is None:
            return
        if node.kind != "map":
            self.err("S004", "'fields' must map field names to types", node.loc)
            return
        for key, key_loc, value in node.value:
            path = prefix + key
            if value.kind == "scalar":
                kind = value.value
                if kind not in FIELD_TYPES:
                    self.err("S005", f"unknown field type '{kind}'", value.loc, did_you_mean(str(kind), FIELD_TYPES))
                    continue
                out[path] = kind
            elif value.kind == "map":
                out[path] = str((value.get("type") or YNode("object", key_loc, "scalar")).value)
                self.fields(value.get("fields"), path + ".", out)
            else:
                self.err("S004", f"field '{path}' needs a type", value.loc)

    def logsources(self, node: YNode | None) -> list[LogSourceMapping]:
        if node is None:
            return []
        out = []
        for entry in node.value if node.kind == "seq" else []:
            plain = entry.plain()
            if not isinstance(plain, dict):
                self.err("S006", "a logsource entry must be a mapping", entry.loc)
                continue
            self.unknown_keys(entry, MAPPING_KEYS, "a logsource entry", "S006")
            try:
                when = _when_expr(plain.get("when"))
            except ModifierError as exc:
                self.err("S007", f"bad 'when' condition: {exc.message}", entry.loc)
                continue
            renames = plain.get("fields") or {}
            if not isinstance(renames, dict) or not all(isinstance(v, str) for v in renames.values()):
                self.err("S008", "a logsource's 'fields' must map Sigma field names to schema paths", entry.loc)
                continue
            prefix = plain.get("field_prefix") or ""
            if not isinstance(prefix, str):
                self.err("S008", "a logsource's 'field_prefix' must be a path prefix such as 'detail.'", entry.loc)
                continue
            out.append(
                LogSourceMapping(
                    plain.get("product"), plain.get("category"), plain.get("service"), when, tuple(sorted(renames.items())), prefix
                )
            )
        return out


def _when_expr(when: Any) -> Expr:
    """A Sigma-style selection (a map, or a list of maps ORed) as an expression."""
    if when is None:
        return Const(True)
    alternatives = when if isinstance(when, list) else [when]
    exprs = []
    for alt in alternatives:
        items = []
        for key, value in alt.items():
            name, *mods = key.split("|")
            values = tuple(value) if isinstance(value, list) else (value,)
            items.append(lower_item(FieldItem(name, tuple(mods), values)))
        exprs.append(all_of(items))
    return any_of(exprs)


def unknown_field(schema: Schema, name: str, loc: Loc) -> Diagnostic:
    hint = did_you_mean(name, list(schema.fields)) or f"see the fields of {schema.name} in {schema.path}"
    make = error if schema.strict_fields else warning
    code = "E060" if schema.strict_fields else "W060"
    return make(code, f"field '{name}' is not in log type '{schema.name}'", loc, hint)
