"""Title and context hooks for `sigil replay`, found in the rule repository as the compiler copies them.

The Lambda imports a hook as ``sigil_rules._hooks.<module>:<function>`` (`runtime.rules.RuleSet.hook`);
replay resolves the same names to the user's files, so both build the same alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from compiler.build import hook_name
from dsl.ast import PyRef, Rule
from dsl.python_hooks import load_function


class HookResolver:
    """``module:function`` names of the rules' title and context hooks → the functions of their files."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.refs: dict[str, tuple[PyRef, str]] = {}
        for rule in rules:
            for ref in (rule.python.title, rule.python.context):
                if ref is not None:
                    self.refs[hook_name(ref)] = (ref, rule.path)

    def resolve(self, name: str) -> Callable[[Any], Any]:
        """The function named ``name``; raises KeyError or HookError when it cannot be found."""
        ref, rule_path = self.refs[name]
        return load_function(ref, rule_path)
