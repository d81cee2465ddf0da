"""Split messages: documents of one key told apart when joined, and a retried send never mixes two documents."""

from __future__ import annotations

import json

import pytest

from runtime.outputs.parts import PartLedger, join, split

LIMIT = 1024


def letter(error: str) -> dict:
    """A dead letter too big for one message; letters for one (alert, output) pair share their key."""
    return {"output": "webhook:soar", "error": error, "alert": {"alert_id": "a1", "record": {"blob": "x" * 3000}}}


def test_two_documents_of_one_key_join_apart() -> None:
    """Parts of two letters for the same pair, read together in any order, give back both letters."""
    first, second = split(letter("first"), LIMIT, "a1|webhook:soar"), split(letter("second"), LIMIT, "a1|webhook:soar")
    assert len(first) > 1 and len(second) > 1
    mixed = [m for pair in zip(reversed(first), second, strict=False) for m in pair] + first[len(second) :] + second[len(first) :]
    found = sorted(join(mixed), key=lambda d: d["error"])
    assert found == [letter("first"), letter("second")]


def test_an_incomplete_document_is_refused() -> None:
    parts = split(letter("first"), LIMIT, "a1|webhook:soar")
    with pytest.raises(ValueError, match="have parts"):
        join(parts[1:])


def test_a_retried_send_of_another_document_under_the_same_key_sends_it_whole() -> None:
    """A send failing midway, then a new letter under the same key: every part of the new one goes out, so
    what arrived joins into whole letters (the old one stays incomplete, never completed with foreign parts)."""
    ledger, arrived = PartLedger(), []
    old, new = split(letter("old"), LIMIT, "k"), split(letter("new"), LIMIT, "k")

    def failing_after_one(index: int, message: str) -> None:
        if index == 1:
            raise ConnectionError("throttled")
        arrived.append(message)

    with pytest.raises(ConnectionError):
        ledger.send_all("k", old, failing_after_one)
    ledger.send_all("k", new, lambda index, message: arrived.append(message))
    new_parts = [m for m in arrived if json.loads(m)["sigil_part"]["sha256"] == json.loads(new[0])["sigil_part"]["sha256"]]
    assert new_parts == new
    assert join(new_parts) == [letter("new")]


def test_a_retried_send_of_the_same_document_resumes() -> None:
    """The same document sent again after a failure: only the parts not sent yet go out."""
    ledger, arrived, calls = PartLedger(), [], {"n": 0}
    parts = split(letter("same"), LIMIT, "k")

    def flaky(index: int, message: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("throttled")
        arrived.append(message)

    with pytest.raises(ConnectionError):
        ledger.send_all("k", parts, flaky)
    ledger.send_all("k", parts, flaky)
    assert sorted(arrived) == sorted(parts) and len(arrived) == len(parts)
    assert join(arrived) == [letter("same")]
