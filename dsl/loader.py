"""Build rules from YAML files, checking every field; all diagnostics are collected, none raised."""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import ast
from .ast import Condition, Detection, FieldItem, LogSource, Rule, RuleTest, Selection
from .condition import ConditionError, condition_diagnostic, parse_condition
from .diagnostics import Diagnostic, Loc, did_you_mean, error, warning
from .documents import Correlation, Filter, check_references, read_special_document, timespan_seconds
from .filters import apply_filters
from .lower import matching_names
from .modifiers import ModifierError, lower_item
from .python_hooks import REF_FORM, HookError, parse_ref, resolve
from .python_hooks import check as check_hook
from .reader import LEVELS, DocumentReader
from .yaml_source import YNode, load_documents

STATUSES = ("stable", "test", "experimental", "deprecated", "unsupported")
RELATION_TYPES = ("derived", "obsolete", "merged", "renamed", "similar")
TAG_RE = re.compile(r"^[a-z0-9_-]+\.[a-z0-9._-]+$")
DATE_RE = re.compile(r"^\d{4}[-/]\d{2}[-/]\d{2}$")
RULE_EXTENSIONS = ("outputs", "severity", "enabled", "tests", "context", "dedup")
LOGSOURCE_KEYS = ("category", "product", "service", "definition")


@dataclass
class LoadResult:
    rules: list[Rule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    correlations: list[Correlation] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    documents: int = 0  # rule documents read, loaded or not

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def extend(self, other: LoadResult) -> None:
        self.rules.extend(other.rules)
        self.correlations.extend(other.correlations)
        self.filters.extend(other.filters)
        self.diagnostics.extend(other.diagnostics)
        self.files += other.files
        self.documents += other.documents


def rule_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Rule files under the given files and directories, in a stable order."""
    for p in paths:
        p = Path(p)
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in (".yml", ".yaml") and q.is_file())
        else:
            yield p


def load_paths(paths: Iterable[str | Path]) -> LoadResult:
    result = LoadResult()
    for path in rule_files(paths):
        result.extend(load_file(path))
    result.diagnostics.extend(check_references(result.rules, result.correlations, result.filters))
    result.rules, filter_diags = apply_filters(result.rules, result.filters, result.correlations)
    result.diagnostics.extend(filter_diags)
    return result


def load_file(path: str | Path) -> LoadResult:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return LoadResult(diagnostics=[error("E000", f"cannot read rule file: {exc}", Loc(str(path)))], files=1, documents=1)
    result = load_text(text, str(path))
    result.files = 1
    return result


def load_text(text: str, path: str = "<memory>") -> LoadResult:
    docs, diags = load_documents(text, path)
    lines = text.splitlines()
    result = LoadResult([], list(diags), documents=1 if diags and not docs else 0)
    if not docs and not diags:
        result.diagnostics.append(warning("W001", "the file holds no rule", Loc(path)))
    for doc in docs:
        if doc.kind == "map" and doc.get("correlation") is None and doc.get("filter") is None and doc.get("action") is None:
            result.documents += 1
        builder = _RuleBuilder(doc, result.diagnostics, lines)
        rule = builder.build()
        if isinstance(rule, Rule):
            result.rules.append(rule)
        elif isinstance(rule, Correlation):
            result.correlations.append(rule)
        elif isinstance(rule, Filter):
            result.filters.append(rule)
    return result


class _RuleBuilder(DocumentReader):
    """Reads one YAML document into a Rule, appending diagnostics as it goes."""

    # -- the rule ------------------------------------------------------------------------

    def build(self) -> Rule | Correlation | Filter | None:
        doc = self.doc
        if doc.kind != "map":
            self.err("E010", f"a rule document must be a mapping, not {doc.type_name()}", doc.loc, "a rule is a mapping with keys such as title, logsource and detection")
            return None
        if doc.get("correlation") is not None or doc.get("filter") is not None or doc.get("action") is not None:
            return read_special_document(self)
        title = self.text(doc.get("title"), "title", required=True)
        if doc.get("generate") is not None:
            self.warn("W055", "'generate' has no effect on a detection rule", doc.key_loc("generate"), "it belongs to correlation rules")
        if title is not None and len(title) > 256:
            self.warn("W010", "the title is longer than 256 characters", doc.child("title").loc)
        rule_id = self.text(doc.get("id"), "id")
        if rule_id is not None and not _is_uuid(rule_id):
            self.err("E013", f"id '{rule_id}' is not a UUID", doc.child("id").loc, "use a random UUID, e.g. from: python -c 'import uuid; print(uuid.uuid4())'")
        tags = self.text_list(doc.get("tags"), "tags")
        self.check_tags(doc.get("tags"), tags)
        for key in ("date", "modified"):
            value = self.text(doc.get(key), key)
            if value is not None and not DATE_RE.match(value):
                self.err("E014", f"{key} '{value}' is not a date", doc.child(key).loc, "write it as YYYY-MM-DD")
        self.check_related(doc.get("related"))
        templates = self.boolean(doc.get("templates"), "templates", False)
        for key in ("title", "description"):
            self.check_template(doc.get(key), key, templates, any(doc.get(k) is not None for k in (*RULE_EXTENSIONS, "python")))
        self.hook_names: set[str] = set()
        self.broken_hook = False
        self.broken_names: set[str] = set()
        self.piped_names: dict[str, str] = {}  # `keywords` -> `keywords|re`
        python = self.python_hooks(doc.get("python"))
        logsource = self.logsource(doc.get("logsource"))
        detection = self.detection(doc.get("detection"))
        enabled = self.boolean(doc.get("enabled"), "enabled", True)
        status = self.choice(doc.get("status"), "status", STATUSES)
        level = self.choice(doc.get("level"), "level", LEVELS)
        outputs = self.outputs(doc.get("outputs"))
        severity = self.choice(doc.get("severity"), "severity", LEVELS)
        tests = self.tests(doc.get("tests"))
        context = self.context(doc.get("context"))
        dedup = self.dedup(doc.get("dedup"))
        if title is None or logsource is None or detection is None or self.broken_hook:
            return None
        return Rule(
            title=title,
            logsource=logsource,
            detection=detection,
            id=rule_id,
            name=self.text(doc.get("name"), "name"),
            description=self.text(doc.get("description"), "description"),
            author=self.text(doc.get("author"), "author"),
            references=self.text_list(doc.get("references"), "references"),
            tags=tags,
            falsepositives=self.text_list(doc.get("falsepositives"), "falsepositives"),
            date=self.text(doc.get("date"), "date"),
            modified=self.text(doc.get("modified"), "modified"),
            fields=self.text_list(doc.get("fields"), "fields"),
            enabled=enabled,
            templates=templates,
            python=python,
            status=status,
            level=level,
            outputs=outputs,
            severity=severity,
            tests=tests,
            context=context,
            dedup=dedup,
            loc=doc.loc,
        )

    def check_tags(self, node: YNode | None, tags: tuple[str, ...]) -> None:
        if node is None:
            return
        locs = [n.loc for n in node.value] if node.kind == "seq" else [node.loc]
        for tag, loc in zip(tags, locs, strict=False):
            if not TAG_RE.match(tag):
                self.err("E015", f"tag '{tag}' is not of the form namespace.value", loc, "lowercase, e.g. attack.t1059.001")

    def check_related(self, node: YNode | None) -> None:
        if node is None:
            return
        if node.kind != "seq":
            self.err("E011", "'related' must be a list of {id, type}", node.loc)
            return
        for item in node.value:
            if item.kind != "map":
                self.err("E011", "each 'related' entry must be a mapping with id and type", item.loc)
                continue
            rid = self.text(item.get("id"), "related id")
            if rid is not None and not _is_uuid(rid):
                self.err("E013", f"related id '{rid}' is not a UUID", item.get("id").loc)
            self.choice(item.get("type"), "relation type", RELATION_TYPES)

    def logsource(self, node: YNode | None) -> LogSource | None:
        if node is None:
            self.err("E020", "the rule has no 'logsource'", self.doc.loc, "add a logsource with product, category or service")
            return None
        if node.kind != "map":
            self.err("E011", "'logsource' must be a mapping", node.loc)
            return None
        values, locs = {}, []
        for key, _, value in node.value:
            if key in LOGSOURCE_KEYS:
                values[key] = self.text(value, f"logsource {key}")
                locs.append((key, value.loc))
        return LogSource(**values, loc=node.loc, value_locs=tuple(locs))

    def tests(self, node: YNode | None) -> tuple[RuleTest, ...]:
        if node is None:
            return ()
        if node.kind != "seq":
            self.err("E011", "'tests' must be a list of {name, event, expect}", node.loc)
            return ()
        out = []
        for i, item in enumerate(node.value):
            if item.kind != "map":
                self.err("E011", "each test must be a mapping with name, event and expect", item.loc)
                continue
            name = self.text(item.get("name"), "test name") or f"test {i + 1}"
            event = item.get("event")
            if event is None or event.kind != "map":
                self.err("E017", f"test '{name}' needs an 'event' mapping", (event or item).loc)
                continue
            expect = item.get("expect")
            if expect is None or expect.kind != "scalar" or not isinstance(expect.value, bool):
                self.err("E017", f"test '{name}' needs 'expect: true' or 'expect: false'", (expect or item).loc)
                continue
            out.append(RuleTest(name, event.plain(), expect.value, item.loc))
        return tuple(out)

    # -- extensions ----------------------------------------------------------------------

    def check_template(self, node: YNode | None, key: str, templates: bool, sigil_rule: bool) -> None:
        """With `templates: true` the title and description are `{field.path}` templates, checked here (E018).
        Without it they are text shown as written, braces included (a SigmaHQ description may hold a regex
        quantifier `{5,12}`); a rule that uses Sigil's extensions is warned (W018) when its text holds what
        would be a placeholder, since its author most likely meant one."""
        if node is None or node.kind != "scalar" or not isinstance(node.value, str):
            return
        if templates:
            problem = template_problem(node.value)
            if problem:
                self.err("E018", f"{key} template: {problem}", node.loc, "write {field.path} to insert a field, {{ and }} for braces")
        elif sigil_rule and (placeholder := first_placeholder(node.value)):
            self.warn("W018", f"the {key} is shown as written, '{placeholder}' included: templates are off", node.loc, "add 'templates: true' to render {field.path} placeholders in the title and description")

    def context(self, node: YNode | None) -> tuple[tuple[str, str], ...]:
        if node is None:
            return ()
        if node.kind == "seq":
            paths = self.text_list(node, "context")
            return tuple((p, p) for p in paths)
        if node.kind == "map":
            return tuple((k, v) for k, _, n in node.value if (v := self.text(n, f"context {k}")) is not None)
        self.err("E011", "'context' must be a list of field paths or a mapping of names to field paths", node.loc)
        return ()

    def dedup(self, node: YNode | None) -> ast.Dedup | None:
        if node is None:
            return None
        if node.kind != "map":
            self.err("E011", "'dedup' must be a mapping with keys and window", node.loc)
            return None
        keys = self.text_list(node.get("keys"), "dedup keys")
        if not keys:
            self.err("E019", "'dedup' needs 'keys': the fields whose equal values make alerts duplicates", node.loc)
        window = self.text(node.get("window"), "dedup window") or "1h"
        seconds = timespan_seconds(window)
        if seconds is None:
            self.err("E019", f"dedup window '{window}' is not a number followed by s, m, h or d", (node.get("window") or node).loc, "e.g. 15m or 1h")
            return None
        return ast.Dedup(keys, seconds)

    def python_hooks(self, node: YNode | None) -> ast.PythonHooks:
        if node is None:
            return ast.NO_HOOKS
        if node.kind != "map":
            self.err("E011", "'python' must be a mapping with conditions, title or context", node.loc)
            return ast.NO_HOOKS
        conditions = []
        cond_node = node.get("conditions")
        if cond_node is not None:
            if cond_node.kind != "map":
                self.err("E011", "'python.conditions' must map identifiers to module.py:function", cond_node.loc)
            else:
                for name, _, ref_node in cond_node.value:
                    self.hook_names.add(name)  # known even when broken, so conditions don't cascade
                    ref = self.pyref(ref_node, "condition")
                    if ref is not None:
                        conditions.append((name, ref))
                    else:  # reported; the condition naming it could not be evaluated, so no rule is built
                        self.broken_hook = True
        for key, _, _ in node.value:
            if key not in ("conditions", "title", "context"):
                self.err("E084", f"unknown key 'python.{key}'", node.key_loc(key), did_you_mean(key, ["conditions", "title", "context"]))
        return ast.PythonHooks(
            tuple(conditions),
            self.pyref(node.get("title"), "title"),
            self.pyref(node.get("context"), "context"),
        )

    def pyref(self, node: YNode | None, role: str) -> ast.PyRef | None:
        if node is None:
            return None
        text = self.text(node, f"python {role}")
        parsed = parse_ref(text) if text is not None else None
        if parsed is None:
            if text is not None:
                self.err("E085", f"'{text}' is not a reference to a Python function", node.loc, f"write {REF_FORM}")
            return None
        module_path, function = parsed
        try:
            found = resolve(module_path, node.loc.path)
        except HookError as exc:
            self.err(exc.code, exc.message, node.loc, exc.hint)
            return None
        ref = ast.PyRef(module_path, function, node.loc, str(found) if found else None)
        problem = check_hook(ref, node.loc.path, role)
        if problem is not None:
            self.diags.append(problem)
            return None
        return ref

    # -- detection -----------------------------------------------------------------------

    def detection(self, node: YNode | None, reserved: tuple[str, ...] = ("condition", "timeframe")) -> Detection | None:
        if node is None:
            self.err("E020", "the rule has no 'detection'", self.doc.loc)
            return None
        if node.kind != "map":
            self.err("E011", "'detection' must be a mapping of search identifiers and a condition", node.loc)
            return None
        before = len(self.diags)
        selections = []
        for key, key_loc, value in node.value:
            if key in reserved:
                continue
            selection = self.selection(key, key_loc, value)
            if selection is not None:
                selections.append(selection)
        cond_node = node.get("condition")
        if cond_node is None:
            self.err("E030", "the detection has no 'condition'", node.loc, "add e.g. 'condition: selection'")
            return None
        if "timeframe" in reserved and node.get("timeframe") is not None:
            self.warn("W054", "'timeframe' has no effect: a rule matches one event at a time", node.key_loc("timeframe"), "count events over a time window with a correlation rule (timespan)")
        detection = Detection(tuple(selections), (), (), node.loc)
        conditions, texts = self.conditions(cond_node, detection)
        detection = Detection(tuple(selections), tuple(conditions), tuple(texts), node.loc)
        if len(self.diags) == before:
            self.check_usage(detection, node)
        if any(d.is_error for d in self.diags[before:]):
            return None
        return detection

    def selection(self, name: str, loc: Loc, node: YNode) -> Selection | None:
        self.broken_names.add(name)  # until it proves fine: a broken identifier is not also "unknown"
        if "|" in name:  # pySigma takes it as a plain name (`1 of sel*` still finds it); so do we, with a warning
            self.piped_names[name.partition("|")[0]] = name
            self.warn("W036", f"search identifier '{name}' cannot take modifiers; they are ignored", loc.shifted(name.index("|") + 1), "put modifiers on a field inside it, e.g. 'userAgent|re: ...'")
        if node.kind == "map":
            alt = self.items(node)
            return Selection(name, (alt,), loc) if alt is not None else None
        if node.kind == "seq":
            if not node.value:
                self.err("E031", f"search identifier '{name}' is an empty list", node.loc)
                return None
            kinds = {item.kind for item in node.value}
            if kinds == {"map"}:
                alts = [self.items(item) for item in node.value]
                return Selection(name, tuple(a for a in alts if a is not None), loc) if None not in alts else None
            if kinds == {"scalar"}:
                return Selection(name, ((self.keyword(node.value, (), loc),),), loc)
            self.err("E032", f"search identifier '{name}' mixes mappings and plain values", node.loc, "split it into two identifiers")
            return None
        if node.value is None:
            self.err("E033", f"search identifier '{name}' is empty", loc, "give it 'field: value' entries or a list of keywords")
            return None
        return Selection(name, ((self.keyword([node], (), loc),),), loc)

    def keyword(self, nodes: list[YNode], mods: tuple[str, ...], loc: Loc) -> FieldItem:
        item = FieldItem(None, mods, tuple(n.value for n in nodes), loc, tuple(n.loc for n in nodes))
        self.check_item(item)
        return item

    def items(self, node: YNode) -> tuple[FieldItem, ...] | None:
        items = []
        for key, key_loc, value in node.value:
            field_name, *mods = key.split("|")
            if value.kind == "map":
                first = value.value[0][0] if value.value else "field"
                self.err("E034", f"'{key}' holds a mapping; a field takes a value or a list of values", value.loc, f"name nested fields with dots, e.g. '{key}.{first}'")
                continue
            nodes = value.value if value.kind == "seq" else [value]
            bad = [n for n in nodes if n.kind != "scalar"]
            if bad:
                self.err("E034", f"'{key}' holds a nested {bad[0].type_name()}; list only plain values", bad[0].loc)
                continue
            item = FieldItem(field_name or None, tuple(mods), tuple(n.value for n in nodes), key_loc, tuple(n.loc for n in nodes))
            if value.kind == "scalar" and value.value is None:
                item = FieldItem(item.field, item.modifiers, (None,), key_loc, (value.loc,))
            self.check_item(item)
            items.append(item)
        if not items and not node.value:
            self.err("E033", "empty mapping in detection", node.loc)
            return None
        return tuple(items)

    def check_item(self, item: FieldItem) -> None:
        try:
            lower_item(item)
        except ModifierError as exc:
            loc = item.loc
            if exc.value_index is not None and exc.value_index < len(item.value_locs):
                loc = item.value_locs[exc.value_index]
            elif exc.code in ("E101", "E102", "E103", "E104", "E105", "E106", "E107", "E108", "E109"):
                loc = _modifier_loc(item, exc)
            self.err(exc.code, exc.message, loc, exc.hint)
            return
        if "all" in item.modifiers and len(item.values) == 1:
            self.warn("W030", "'all' with a single value changes nothing", _modifier_at(item, "all"), "drop '|all' or list several values")
        if "base64offset" in item.modifiers and "contains" not in item.modifiers:
            self.warn("W031", "'base64offset' values sit inside a longer encoding", item.loc, "add '|contains' after it")

    def conditions(self, node: YNode, detection: Detection) -> tuple[list[Condition], list[str]]:
        nodes = node.value if node.kind == "seq" else [node]
        conditions: list[Condition] = []
        texts: list[str] = []
        for cnode in nodes:
            if cnode.kind != "scalar" or not isinstance(cnode.value, str):
                self.err("E035", "a condition must be text", cnode.loc)
                continue
            start = self.condition_locator(cnode)
            try:
                cond = parse_condition(cnode.value, start)
            except ConditionError as exc:
                self.diags.append(condition_diagnostic(exc, start))
                continue
            self.check_refs(cond, detection)
            conditions.append(cond)
            texts.append(cnode.value)
        return conditions, texts

    def check_refs(self, cond: Condition, detection: Detection) -> None:
        names = [s.name for s in detection.selections] + sorted(self.hook_names)
        known = set(names) | self.broken_names
        match cond:
            case ast.Ref(name, loc):
                if name in self.piped_names:
                    piped = self.piped_names[name]
                    self.err("E040", f"unknown search identifier '{name}'", loc, f"'{piped}' is named with its modifiers; rename it '{name}' and put the modifiers on its fields")
                elif name not in known:
                    self.err("E040", f"unknown search identifier '{name}'", loc, did_you_mean(name, names))
            case ast.Of(_, pattern, loc):
                if not matching_names(detection, pattern):
                    what = f"pattern '{pattern}'" if pattern else "'them'"
                    hidden = [n for n in names if n.startswith("_") and (pattern is None or fnmatch.fnmatchcase(n.lstrip("_"), pattern.lstrip("_")))]
                    hint = (
                        "identifiers starting with '_' are left out of 'them' and patterns"
                        if hidden
                        else "the search identifiers are: " + ", ".join(names)
                    )
                    self.err("E041", f"{what} selects no search identifier", loc, hint)
            case ast.NotCond(item):
                self.check_refs(item, detection)
            case ast.AndCond(items) | ast.OrCond(items):
                for item in items:
                    self.check_refs(item, detection)

    def check_usage(self, detection: Detection, node: YNode) -> None:
        used: set[str] = set()

        def walk(cond: Condition) -> None:
            match cond:
                case ast.Ref(name):
                    used.add(name)
                case ast.Of(_, pattern):
                    used.update(matching_names(detection, pattern))
                case ast.NotCond(item):
                    walk(item)
                case ast.AndCond(items) | ast.OrCond(items):
                    for i in items:
                        walk(i)

        for cond in detection.conditions:
            walk(cond)
        for selection in detection.selections:
            if selection.name not in used:
                self.warn("W040", f"search identifier '{selection.name}' is never used", selection.loc, "use it in the condition or delete it")


def template_problem(text: str) -> str | None:
    """Why a `{field.path}` template is malformed, or None."""
    import string

    try:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (not name or spec or conversion or not re.fullmatch(r"[\w.\-]+", name)):
                return f"'{{{name}}}' is not a field placeholder"
    except ValueError as exc:
        return str(exc)
    return None


def first_placeholder(text: str) -> str | None:
    """The first well-formed `{field.path}` in ``text``, as written, or None."""
    match = re.search(r"(?<!\{)\{([\w.\-]+)\}(?!\})", text)
    return match.group(0) if match else None


def _modifier_at(item: FieldItem, modifier: str, last: bool = False) -> Loc:
    """The column of `|modifier` inside the item's `field|mod|mod` key (the last one if asked)."""
    mods = list(item.modifiers)
    if modifier not in mods:
        return item.loc
    index = len(mods) - 1 - mods[::-1].index(modifier) if last else mods.index(modifier)
    column = len(item.field or "") + sum(len(m) + 1 for m in mods[:index]) + 1
    return item.loc.shifted(column)


def _modifier_loc(item: FieldItem, exc: ModifierError) -> Loc:
    """Point at the offending modifier inside `field|mod|mod` when the message names one."""
    match = re.search(r"'([a-z0-9]+)'", exc.message)
    return _modifier_at(item, match.group(1)) if match else item.loc


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
