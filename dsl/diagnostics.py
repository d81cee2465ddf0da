"""Diagnostics: a located message with a code and a hint, rendered like a compiler error."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, order=True)
class Loc:
    """A position in a source file; line and col count from 1."""

    path: str
    line: int = 1
    col: int = 1

    def shifted(self, columns: int) -> Loc:
        return Loc(self.path, self.line, self.col + columns)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a rule file: severity, code, message, where, and what to do about it."""

    severity: Severity
    code: str
    message: str
    loc: Loc
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, loc: Loc, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.ERROR, code, message, loc, hint)


def warning(code: str, message: str, loc: Loc, hint: str | None = None) -> Diagnostic:
    return Diagnostic(Severity.WARNING, code, message, loc, hint)


@dataclass
class SourceCache:
    """Reads each source file once, to show the offending line under a diagnostic."""

    texts: dict[str, list[str]] = field(default_factory=dict)

    def line(self, path: str, line: int) -> str | None:
        if path not in self.texts:
            try:
                self.texts[path] = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self.texts[path] = []
        lines = self.texts[path]
        return lines[line - 1] if 0 < line <= len(lines) else None


def render(diag: Diagnostic, sources: SourceCache | None = None) -> str:
    """`path:line:col: error[CODE]: message`, the source line with a caret, then the hint."""
    sources = sources or SourceCache()
    out = [f"{diag.loc}: {diag.severity.value}[{diag.code}]: {diag.message}"]
    text = sources.line(diag.loc.path, diag.loc.line)
    if text is not None:
        gutter = f"{diag.loc.line:>4} | "
        out.append(gutter + text)
        out.append(" " * (len(gutter) - 2) + "| " + " " * (diag.loc.col - 1) + "^")
    if diag.hint:
        out.append(f"  = hint: {diag.hint}")
    return "\n".join(out)


def did_you_mean(name: str, candidates: list[str] | set[str] | tuple[str, ...]) -> str | None:
    """A "did you mean X?" hint from the closest candidate names, if any is close."""
    import difflib

    by_lower = {c.lower(): c for c in candidates}
    if name.lower() in by_lower:
        return f"did you mean {by_lower[name.lower()]}?"
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None
