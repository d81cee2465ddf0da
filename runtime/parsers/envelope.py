"""``envelope_keys``: fields of a document's root copied into each record taken out of it.

The records get them under ``envelope_field`` (default ``envelope``, StreamAlert's
``streamalert:envelope_keys``); an empty ``envelope_field`` merges them in at the top level without
overriding the record's own fields. ``envelope_keys`` is a list of names (or a mapping whose keys are
the names, as StreamAlert writes it); keys the document lacks are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.helpers import MISSING, get_field

DEFAULT_FIELD = "envelope"


def attach(records: list[dict[str, Any]], doc: Any, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return ``records`` with the envelope keys of ``doc`` (unchanged when no ``envelope_keys``)."""
    keys = options.get("envelope_keys")
    if not keys:
        return records
    names = list(keys) if isinstance(keys, Mapping | list | tuple) else [str(keys)]
    envelope = {
        name: value
        for name in names
        if isinstance(doc, Mapping) and (value := get_field(doc, name)) is not MISSING
    }
    field = options.get("envelope_field", DEFAULT_FIELD)
    if not field:
        return [{**envelope, **record} for record in records]
    return [{**record, field: envelope} for record in records]
