"""Sigma documents that are not detection rules: correlations, filters and v1 `action` documents.

They are read and checked now so that rule files holding them load cleanly; running them is the
job of the stateful-detection work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loader import _RuleBuilder

CORRELATION_TYPES = (
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    "value_sum",
    "value_avg",
    "value_percentile",
    "value_median",
)


def read_special_document(builder: _RuleBuilder) -> None:
    doc = builder.doc
    if doc.get("action") is not None:
        return  # Sigma v1 global/reset/repeat documents: merged by pySigma, ignored here
    if doc.get("correlation") is not None:
        corr = doc.get("correlation")
        builder.text(doc.get("title"), "title", required=True)
        if corr.kind != "map":
            builder.err("E050", "'correlation' must be a mapping", corr.loc)
            return
        kind = builder.choice(corr.get("type"), "correlation type", CORRELATION_TYPES)
        if kind is None and corr.get("type") is None:
            builder.err("E050", "the correlation has no 'type'", corr.loc)
        if corr.get("rules") is None:
            builder.err("E050", "the correlation names no 'rules'", corr.loc)
        span = builder.text(corr.get("timespan"), "timespan")
        if span is not None and not _is_timespan(span):
            builder.err("E051", f"timespan '{span}' is not a number followed by s, m, h or d", corr.get("timespan").loc)
        return
    flt = doc.get("filter")
    builder.text(doc.get("title"), "title", required=True)
    if flt.kind != "map":
        builder.err("E052", "'filter' must be a mapping", flt.loc)


def _is_timespan(text: str) -> bool:
    return len(text) > 1 and text[:-1].isdigit() and text[-1] in "smhdwMy"
