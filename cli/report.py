"""Render diagnostics as text, JSON lines or SARIF 2.1.0, plus the one-line summary."""

from __future__ import annotations

import json

from dsl.diagnostics import Diagnostic, SourceCache, render

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def text_report(diags: list[Diagnostic]) -> str:
    sources = SourceCache()
    return "\n\n".join(render(d, sources) for d in sorted(diags, key=lambda d: d.loc))


def json_report(diags: list[Diagnostic]) -> str:
    return "\n".join(
        json.dumps(
            {
                "path": d.loc.path,
                "line": d.loc.line,
                "column": d.loc.col,
                "severity": d.severity.value,
                "code": d.code,
                "message": d.message,
                "hint": d.hint,
            },
            sort_keys=True,
        )
        for d in sorted(diags, key=lambda d: d.loc)
    )


def sarif_report(diags: list[Diagnostic]) -> str:
    codes = sorted({d.code for d in diags})
    results = [
        {
            "ruleId": d.code,
            "level": "error" if d.is_error else "warning",
            "message": {"text": d.message + (f" ({d.hint})" if d.hint else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.loc.path},
                        "region": {"startLine": d.loc.line, "startColumn": d.loc.col},
                    }
                }
            ],
        }
        for d in sorted(diags, key=lambda d: d.loc)
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "sigil", "rules": [{"id": c} for c in codes]}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, sort_keys=True)


FORMATS = {"text": text_report, "json": json_report, "sarif": sarif_report}


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(rules: int, errors: int, warnings: int, compiled: int | None = None) -> str:
    """The one-line count of rules, compiled rules, errors and warnings that ends compile and lint."""
    parts = [plural(rules, "rule")]
    if compiled is not None:
        parts.append(f"{compiled} compiled")
    parts += [plural(errors, "error"), plural(warnings, "warning")]
    return ", ".join(parts)
