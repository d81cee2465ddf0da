"""Python escape hatches: find the module a rule names, load it once, check the function's signature."""

from __future__ import annotations

import importlib.util
import inspect
import keyword
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from types import ModuleType
from typing import Any

from .ast import PyRef
from .diagnostics import Diagnostic, did_you_mean, error

REF_FORM = "path/to/module.py:function"
OUTSIDE_HINT = "hook modules must be inside the working directory (the repository), named by a relative path without '..'"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


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


def repository_root() -> Path:
    """The folder hook modules must lie in: the working directory (the repository's root, where `sigil`
    runs), symlinks resolved. Their files are copied into the bundle, so nothing outside it may be."""
    return Path.cwd().resolve()


def resolve(module_path: str, rule_path: str) -> Path | None:
    """The module file: relative to the working directory, else to a folder above the rule file inside it.

    Raises HookError (E086) for a path that leaves the repository: absolute, with `..`, or a symlink to
    a file outside it. The file returned has its symlinks resolved, so one file has one name.
    """
    written = PurePosixPath(module_path)
    if written.is_absolute() or ".." in written.parts or PureWindowsPath(module_path).drive:
        raise HookError("E086", f"Python module '{module_path}' is outside the repository", OUTSIDE_HINT)
    root = repository_root()
    bases = [root] + [parent for parent in Path(rule_path).resolve().parents if parent.is_relative_to(root)]
    found = next((base / written for base in bases if (base / written).is_file()), None)
    if found is None:
        return None
    real = found.resolve()
    if not real.is_relative_to(root):
        raise HookError("E086", f"Python module '{module_path}' is a link to {real}, outside the repository", OUTSIDE_HINT)
    return real


def module_key(resolved: str | Path) -> str:
    """The hook file's path from the repository root, `rules/helpers/auth.py`: what its module is named by."""
    path = Path(resolved)
    root = repository_root()
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()


def hook_module(module_path: str, resolved: str | None) -> str:
    """The module name in `sigil_rules._hooks` of the file a reference names (as written, when unresolved)."""
    return hook_module_name(module_key(resolved or module_path))


def hook_module_name(key: str) -> str:
    """The module name of a hook file inside `sigil_rules._hooks`, from its path in the repository.

    Distinct paths give distinct names, even where file names differ only in case (the build may write
    them to a case-insensitive disk): lowercase ASCII letters and digits stay, `/` is `__`, and every
    other character is `_` and a code: `_1` for `_`, `_2x` for the capital X, `_3<hex>_` for the rest,
    so no two paths can spell the same name. The `hook_` prefix keeps it an identifier that is no
    keyword and no name of the generated module.

    >>> hook_module_name("rules/helpers/auth.py"), hook_module_name("rules/helpers_auth.py")
    ('hook_rules__helpers__auth', 'hook_rules__helpers_1auth')
    >>> hook_module_name("Class.py"), hook_module_name("règles/1-x.py")
    ('hook__2class', 'hook_r_3e8_gles__1_32d_x')
    """
    out = []
    for char in key.removesuffix(".py"):
        if char in _PLAIN:
            out.append(char)
        elif char == "/":
            out.append("__")
        elif char == "_":
            out.append("_1")
        elif "A" <= char <= "Z":
            out.append("_2" + char.lower())
        else:
            out.append(f"_3{ord(char):x}_")
    return "hook_" + "".join(out)


@cache
def _load(path: Path) -> ModuleType:
    name = "sigil_hook_" + "_".join(path.with_suffix("").parts[-3:]).replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_function(ref: PyRef, rule_path: str) -> Callable[..., Any]:
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
    found: Callable[..., Any] = function
    return found


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
