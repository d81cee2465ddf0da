"""The contract between the generated ``sigil_rules`` package and the runtime, in one place.

`sigil compile` (compiler/build.py, compiler/codegen.py) writes the package; `runtime.rules.load_rules`
reads it. Both take every name they share from here: the package and file names, the contract version,
the tables a generated module hands to `runtime.helpers.run_rules`, the rule metadata, and the kinds of
keys generated checks read from `runtime.fields.Fields`. Standard library only: generated code and the
Lambda import it without boto3, dsl/ or compiler/.

Change anything a generated package relies on (a file name, the tables, the metadata, a field-key
kind, what `match` takes) and bump `CONTRACT`: the runtime then refuses a package built by another
compiler with a ContractError naming both versions, instead of misreading it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypedDict

# The version of this contract, written by the compiler as `CONTRACT` in the package's __init__.py.
CONTRACT = 1

PACKAGE = "sigil_rules"  # the generated package
HOOKS_PACKAGE = "_hooks"  # its sub-package of Python escape hatches copied from the rule repository
SCHEMAS_FILE = "schemas.json"  # the runtime view of the schemas: {"log_types": {name: view}}
MANIFEST_FILE = "manifest.json"  # rules, log types and source hashes, for diffs and audits
CORRELATIONS_FILE = "correlations.json"  # written only when the rules hold correlations
SOURCES_FILE = "sources.json"  # optional, copied in by the user: the source map (runtime/sources/source_map.py)
OUTPUTS_FILE = "outputs.json"  # optional, copied in by the user: the outputs (runtime/outputs/config.py)

# Keys of `runtime.fields.Fields` are `<kind>:<path>`; generated checks and the anchor index read these kinds.
VALUE = "v"  # the raw value at the path, or MISSING
TEXTS = "t"  # its texts
FOLDED = "f"  # its case-folded texts
NUMBERS = "n"  # its numbers
WRAPPED_FOLDED = "w"  # the wrapped form of its folded texts (runtime.fields.wrap)
WRAPPED_TEXTS = "u"  # the wrapped form of its own texts
KEYWORDS = "k"  # every text of the record: `k:t`, and `k:f` folded (keyword searches)
FIELD_KINDS = (VALUE, TEXTS, FOLDED, NUMBERS, WRAPPED_FOLDED, WRAPPED_TEXTS, KEYWORDS)
KEYWORD_TEXTS = KEYWORDS + ":" + TEXTS
KEYWORD_FOLDED = KEYWORDS + ":" + FOLDED


def field_key(kind: str, path: str) -> str:
    """The `Fields` key of a path's value of one kind.

    >>> field_key(FOLDED, "Image")
    'f:Image'
    """
    return kind + ":" + path


class ContractError(Exception):
    """The generated package does not follow this contract (another version, a missing part)."""


class MatchTables(NamedTuple):
    """What a generated module hands to `runtime.helpers.run_rules` (as its `TABLES`).

    Rule `i` has the id `rule_ids[i]`, the check `checks[i]` and needs the logsource condition
    `rule_whens[i]` of `whens`; `anchor_index` gives the candidate rules of a record.
    """

    anchor_index: Any  # a runtime.anchor_index.AnchorIndex (named, not imported: that module imports this one)
    whens: Any  # a runtime.helpers.Conditions
    rule_whens: tuple[int, ...]
    checks: tuple[Callable[[Any], Any], ...]  # each takes a runtime.fields.Fields
    rule_ids: tuple[str, ...]


class DedupMeta(TypedDict):
    keys: list[str]
    window_seconds: int


class RuleMeta(TypedDict):
    """The metadata of a rule: a value of a generated module's `RULES` (and a rule of manifest.json)."""

    title: str  # may hold `{field.path}` placeholders, filled from the record
    level: str
    description: str
    path: str
    line: int
    outputs: list[str]  # `service:name`
    tags: list[str]
    context: list[list[str]]  # [name, path] pairs
    dedup: DedupMeta | None
    title_hook: str | None  # `module:function` in sigil_rules._hooks
    context_hook: str | None


def check_version(found: object, package: str = PACKAGE) -> None:
    """Raise ContractError unless ``found`` (the package's `CONTRACT`) is this runtime's version."""
    if found != CONTRACT:
        shown = "none" if found is None else repr(found)
        raise ContractError(
            f"{package} was generated for contract version {shown}, this runtime reads version {CONTRACT}:"
            " compile the rules with the sigil of this runtime (`make bundle`)"
        )
