"""Rename the fields an expression reads (a logsource's Sigma-to-schema field mapping)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .expr import And, Const, Expr, FieldRef, Not, Or, PyCall


def rename_fields(expr: Expr, rename: Callable[[str], str]) -> Expr:
    """The same tree reading `rename(field)` wherever it read `field` (keyword searches untouched).

    Example:
        >>> from dsl.expr import Exists, FieldRef, Not
        >>> rename_fields(Not(FieldRef("Image", "ParentImage")), {"Image": "NewProcessName"}.get)
        Not(item=FieldRef(field='NewProcessName', other='ParentImage', op='eq', cased=False))
    """

    def new(name: str) -> str:
        return rename(name) or name

    match expr:
        case And(items) | Or(items):
            return type(expr)(tuple(rename_fields(i, rename) for i in items))
        case Not(item):
            return Not(rename_fields(item, rename))
        case FieldRef(field=f, other=o):
            return dataclasses.replace(expr, field=new(f), other=new(o))
        case Const() | PyCall():
            return expr
    if expr.field is None:  # a keyword search
        return expr
    return dataclasses.replace(expr, field=new(expr.field))
