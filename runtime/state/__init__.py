"""Where stateful detection keeps its state between batches: one small document per key (a correlation's
group, a dedup key), read, changed and written back atomically.

``update(key, change)`` calls ``change(current)`` with the stored document (None if there is none) and
stores what it returns as the new document; it returns ``change``'s second value. A store may call
``change`` more than once (another writer got there first), so ``change`` must be a pure function of the
document it is given. `MemoryStore` serves `sigil replay` and tests; the Lambda's store sits behind the
same interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Change = Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, T]]


class StateError(Exception):
    """The state could not be read or written (throttled, missing table, no permission): the batch items
    that needed it are retried."""


class StateStore(Protocol):
    """Atomic read-modify-write of one document per key (None as the new document deletes it)."""

    def update(self, key: str, change: Change[T]) -> T: ...

    def scan(self, prefix: str) -> list[str]:
        """The keys that start with ``prefix`` (dedup windows to close)."""
        ...


class MemoryStore:
    """State in a dict: one process (sigil replay, tests)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def update(self, key: str, change: Change[T]) -> T:
        document, result = change(self.documents.get(key))
        if document is None:
            self.documents.pop(key, None)
        else:
            self.documents[key] = document
        return result

    def scan(self, prefix: str) -> list[str]:
        return sorted(k for k in self.documents if k.startswith(prefix))
