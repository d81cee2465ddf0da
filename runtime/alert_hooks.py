"""Alerts as the Lambda sends them: the rule's ``python.title`` and ``python.context`` hooks run here.

A rule's metadata names its hooks as ``module:function`` (``title_hook``, ``context_hook``); a resolver
turns that into the function (the Lambda imports it from ``sigil_rules._hooks``, replay from the rule
repository). A hook that raises, cannot be imported, or returns the wrong kind of value is a failure
charged to the rule; the alert still goes out, with the template title and the rule's own context.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.alerts import build_alert

Resolve = Callable[[str], Callable[[Any], Any]]


@dataclass(frozen=True, slots=True)
class HookFailure:
    """A title or context hook of ``rule_id`` that raised or returned something unusable."""

    rule_id: str
    hook: str  # "title" or "context"
    error: str


def alert_with_hooks(
    rule_id: str,
    rule: Mapping[str, Any],
    log_type: str,
    source: str,
    record: Mapping[str, Any],
    resolve: Resolve,
) -> tuple[dict[str, Any], list[HookFailure]]:
    """Return the alert for ``record`` matched by ``rule_id``, hooks applied, and the hooks that failed."""
    failures: list[HookFailure] = []
    title = _run(rule_id, "title", rule.get("title_hook"), record, resolve, failures, str)
    context = _run(rule_id, "context", rule.get("context_hook"), record, resolve, failures, Mapping)
    alert = build_alert(rule_id, rule, log_type, source, record, title=title, context=context)
    return alert, failures


def _run(
    rule_id: str,
    hook: str,
    ref: str | None,
    record: Mapping[str, Any],
    resolve: Resolve,
    failures: list[HookFailure],
    expected: type,
) -> Any:
    """Call one hook on a copy of the record (a hook must not change what the alert carries); None if it failed."""
    if not ref:
        return None
    try:
        value = resolve(ref)(copy.deepcopy(record))
    except Exception as exc:  # user code: any failure is the rule's error, never the batch's
        failures.append(HookFailure(rule_id, hook, f"{hook} hook {ref} raised {exc!r}"))
        return None
    if not isinstance(value, expected):
        wanted = "text" if expected is str else "a mapping"
        failures.append(HookFailure(rule_id, hook, f"{hook} hook {ref} returned {type(value).__name__}, not {wanted}"))
        return None
    return dict(value) if isinstance(value, Mapping) else value
