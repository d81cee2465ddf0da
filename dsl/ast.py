"""The rule AST: frozen dataclasses built by `dsl.loader` from located YAML.

Positions are kept in `loc` fields that do not take part in equality, so two rules that say the
same thing compare equal wherever they were written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Loc

NOWHERE = Loc("<memory>")


# -- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ref:
    """A search identifier named in a condition."""

    name: str
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Of:
    """`1 of pattern`, `all of pattern`, `1 of them`, `all of them` (`pattern` is None for them)."""

    quantifier: str  # "1" | "all"
    pattern: str | None
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class AndCond:
    items: tuple[Condition, ...]
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class OrCond:
    items: tuple[Condition, ...]
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class NotCond:
    item: Condition
    loc: Loc = field(default=NOWHERE, compare=False)


Condition = Ref | Of | AndCond | OrCond | NotCond


# -- detection -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldItem:
    """One `field|modifier|...: value(s)` entry; `field` is None for a keyword search."""

    field: str | None
    modifiers: tuple[str, ...]
    values: tuple[Any, ...]
    # dataclasses.field: inside this class `field` is the item's field name
    loc: Loc = dataclasses.field(default=NOWHERE, compare=False)
    value_locs: tuple[Loc, ...] = dataclasses.field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Selection:
    """A search identifier: alternatives ORed, the items inside one alternative ANDed."""

    name: str
    alternatives: tuple[tuple[FieldItem, ...], ...]
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class Detection:
    selections: tuple[Selection, ...]
    conditions: tuple[Condition, ...]  # several conditions are ORed
    condition_texts: tuple[str, ...] = field(default=(), compare=False)  # as written; the trees carry the meaning
    loc: Loc = field(default=NOWHERE, compare=False)

    def selection(self, name: str) -> Selection | None:
        return next((s for s in self.selections if s.name == name), None)


@dataclass(frozen=True, slots=True)
class LogSource:
    product: str | None = None
    category: str | None = None
    service: str | None = None
    definition: str | None = None
    loc: Loc = field(default=NOWHERE, compare=False)
    value_locs: tuple[tuple[str, Loc], ...] = field(default=(), compare=False)

    def value_loc(self, *keys: str) -> Loc:
        """Where the first of `keys` that the logsource sets is written (else the logsource itself)."""
        found = dict(self.value_locs)
        return next((found[k] for k in keys if k in found), self.loc)


@dataclass(frozen=True, slots=True)
class RuleTest:
    """A test inside a rule: an event and whether the rule must fire on it."""

    name: str
    event: Any = field(compare=False)  # a mapping: not hashable, so not part of the rule's identity
    expect: bool = True
    loc: Loc = field(default=NOWHERE, compare=False)


@dataclass(frozen=True, slots=True)
class PyRef:
    """A Python escape hatch: `path/to/module.py:function`, the path as written in the rule."""

    module_path: str
    function: str
    loc: Loc = field(default=NOWHERE, compare=False)
    resolved: str | None = field(default=None, compare=False)  # the file found when loading

    def __str__(self) -> str:
        return f"{self.module_path}:{self.function}"


@dataclass(frozen=True, slots=True)
class PythonHooks:
    """Escape hatches: condition identifiers backed by functions, and title/context computed in Python."""

    conditions: tuple[tuple[str, PyRef], ...] = ()
    title: PyRef | None = None
    context: PyRef | None = None

    def condition(self, name: str) -> PyRef | None:
        return next((ref for n, ref in self.conditions if n == name), None)


NO_HOOKS = PythonHooks()


@dataclass(frozen=True, slots=True)
class Dedup:
    """Alerts with equal values of `keys` within `window_seconds` are merged into one."""

    keys: tuple[str, ...]
    window_seconds: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A detection rule: Sigma's fields plus Sigil's extensions."""

    title: str
    logsource: LogSource
    detection: Detection
    id: str | None = None
    name: str | None = None
    status: str | None = None
    level: str | None = None
    description: str | None = None
    author: str | None = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    date: str | None = None
    modified: str | None = None
    fields: tuple[str, ...] = ()
    # Sigil extensions
    outputs: tuple[str, ...] = ()
    severity: str | None = None
    enabled: bool = True
    templates: bool = False  # title and description are {field.path} templates
    tests: tuple[RuleTest, ...] = ()
    context: tuple[tuple[str, str], ...] = ()  # (name in the alert, field path)
    dedup: Dedup | None = None
    python: PythonHooks = NO_HOOKS
    loc: Loc = field(default=NOWHERE, compare=False)

    @property
    def path(self) -> str:
        return self.loc.path

    @property
    def effective_level(self) -> str:
        return self.severity or self.level or "medium"

    @property
    def is_template(self) -> bool:
        """Does the title interpolate record fields (`{field.path}`)? Only with `templates: true`."""
        return self.templates and "{" in self.title

    @property
    def key(self) -> str:
        """The rule's identity in alerts: its id, else its name, else its title."""
        return self.id or self.name or self.title
