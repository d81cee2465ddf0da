"""Split a JSON document too big for a message into self-describing parts, and join them back.

A document that fits is sent as its canonical JSON. One that does not becomes N messages
``{"sigil_part": {"id", "index", "count", "sha256"}, "data": "<slice of the canonical JSON>"}``, each
within the limit; a reader groups by id, orders by index, concatenates ``data`` and checks the sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from runtime.alerts import canonical_json

PART_KEY = "sigil_part"
MIN_BUDGET = 256


def split(document: Mapping[str, Any], limit: int, key: str) -> list[str]:
    """Return the messages for ``document``, each at most ``limit`` bytes; ``key`` names the document."""
    text = canonical_json(document)  # ASCII only: bytes == characters
    if len(text) <= limit:
        return [text]
    digest = hashlib.sha256(text.encode()).hexdigest()
    overhead = len(canonical_json(_envelope(key, digest, 10**6, 10**6, "")))
    budget = limit - overhead
    if budget < MIN_BUDGET:
        raise ValueError(f"limit {limit} leaves no room for data in a part of {key!r}")
    chunks = list(_chunks(text, budget))
    return [canonical_json(_envelope(key, digest, i + 1, len(chunks), c)) for i, c in enumerate(chunks)]


def _envelope(key: str, digest: str, index: int, count: int, data: str) -> dict[str, Any]:
    """Return one part message."""
    return {PART_KEY: {"id": key, "index": index, "count": count, "sha256": digest}, "data": data}


def _chunks(text: str, budget: int) -> Iterator[str]:
    """Cut ASCII ``text`` into slices whose JSON string encoding (minus quotes) fits ``budget`` bytes."""
    start = 0
    while start < len(text):
        piece = text[start : start + budget]
        cost = _escaped_length(piece)
        while cost > budget:  # shrink in proportion, then again if escapes were denser at the start
            piece = piece[: max(1, min(len(piece) - 1, len(piece) * budget // cost))]
            cost = _escaped_length(piece)
        yield piece
        start += len(piece)


def _escaped_length(piece: str) -> int:
    """Length of ``piece`` inside a JSON string: quotes and backslashes take two bytes."""
    return len(piece) + piece.count('"') + piece.count("\\")


def part_info(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Return the ``sigil_part`` header of a part message, or None for a whole document."""
    info = message.get(PART_KEY)
    return info if isinstance(info, Mapping) and set(message) == {PART_KEY, "data"} else None


def join(messages: Iterable[str]) -> list[dict[str, Any]]:
    """Return the documents carried by ``messages`` (whole or in parts, any order); raise ValueError if incomplete."""
    documents: list[dict[str, Any]] = []
    groups: dict[tuple[str, str], dict[int, Mapping[str, Any]]] = {}
    for text in messages:
        message = json.loads(text)
        info = part_info(message)
        if info is None:
            documents.append(message)
        else:  # two documents of one key (a letter written again) are told apart by their digest
            groups.setdefault((str(info["id"]), str(info["sha256"])), {})[int(info["index"])] = message
    for (key, _), parts in groups.items():
        documents.append(_reassemble(key, parts))
    return documents


def _reassemble(key: str, parts: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Concatenate the parts of one document in order and verify the digest."""
    first = next(iter(parts.values()))[PART_KEY]
    count, digest = int(first["count"]), str(first["sha256"])
    if sorted(parts) != list(range(1, count + 1)):
        raise ValueError(f"document {key!r}: have parts {sorted(parts)} of {count}")
    text = "".join(str(parts[index]["data"]) for index in range(1, count + 1))
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        raise ValueError(f"document {key!r}: sha256 mismatch after joining {count} parts")
    return json.loads(text)


class PartLedger:
    """Remember which parts of a document went out, so a retried send only sends the rest.

    Parts are remembered per key *and* content: a different document under the same key (a dead letter
    written again with a new time and error) is sent whole, never completed with another's parts.
    """

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], set[int]] = {}

    def send_all(self, key: str, messages: list[str], send_one: Callable[[int, str], object]) -> None:
        """Call ``send_one(index, message)`` for each part not sent yet; forget the document once all went out."""
        document = (key, hashlib.sha256("\n".join(messages).encode()).hexdigest())
        for stale in [d for d in self._sent if d[0] == key and d != document]:
            del self._sent[stale]  # an earlier version of this key's document, superseded: keep memory bounded
        sent = self._sent.setdefault(document, set())
        for index, message in enumerate(messages):
            if index not in sent:
                send_one(index, message)
                sent.add(index)
        del self._sent[document]
