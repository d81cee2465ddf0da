"""Python escape hatches: find the module a rule names, load it once, check the function's signature."""

from __future__ import annotations

import importlib.util
import inspect
import keyword
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType

from .ast import PyRef
from .diagnostics import Diagnostic, did_you_mean, error

REF_FORM = "path/to/module.py:function"


class HookError(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def parse_ref(text: str) -> tuple[str, str] | None:
    """`rules/helpers/auth.py:is_admin` → ("rules/helpers/auth.py", "is_admin"), or None if malformed."""
    module, sep, function = text.rpartition(":")
    if not sep or not module.endswith(".py") or not is_plain_identifier(function):
        return None
    return module, function


def is_plain_identifier(name: str) -> bool:
    """An ASCII Python identifier that is not a keyword: written as code as it is, and not changed
    by Python's NFKC normalization of identifiers (`ﬁ` would name the attribute `fi`)."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def resolve(module_path: str, rule_path: str) -> Path | None:
    """The module file: relative to the working directory, else to a folder above the rule file."""
    candidates = [Path.cwd() / module_path]
    candidates += [parent / module_path for parent in Path(rule_path).resolve().parents]
    return next((c for c in candidates if c.is_file()), None)


@cache
def _load(path: Path) -> ModuleType:
    name = "sigil_hook_" + "_".join(path.with_suffix("").parts[-3:]).replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_function(ref: PyRef, rule_path: str) -> Callable:
    path = Path(ref.resolved) if ref.resolved else resolve(ref.module_path, rule_path)
    if path is None:
        raise HookError("E080", f"Python module '{ref.module_path}' not found", "paths are relative to the working directory or to a folder above the rule file")
    try:
        module = _load(path)
    except Exception as exc:  # user code: any failure is a diagnostic, not a traceback
        raise HookError("E083", f"importing '{ref.module_path}' failed: {type(exc).__name__}: {exc}") from None
    function = getattr(module, ref.function, None)
    if not callable(function):
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise HookError("E081", f"'{ref.module_path}' has no function '{ref.function}'", did_you_mean(ref.function, names))
    return function


def check(ref: PyRef, rule_path: str, role: str) -> Diagnostic | None:
    """A diagnostic if the function can't be found or doesn't take exactly one argument (the record)."""
    try:
        function = load_function(ref, rule_path)
        params = list(inspect.signature(function).parameters.values())
    except HookError as exc:
        return error(exc.code, exc.message, ref.loc, exc.hint)
    except (TypeError, ValueError):
        return None
    P = inspect.Parameter
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is P.empty]
    takes_one = len(required) == 1 or (not required and (positional or any(p.kind is P.VAR_POSITIONAL for p in params)))
    if not takes_one or any(p.kind is P.KEYWORD_ONLY and p.default is P.empty for p in params):
        shown = f"{ref.function}{inspect.signature(function)}"
        return error("E082", f"{role} function {shown} must take one argument, the record", ref.loc, f"def {ref.function}(record): ...")
    return None
