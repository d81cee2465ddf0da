"""How long the send in progress may still take: the Lambda's remaining time less the dispatcher's reserve.

The dispatcher wraps each send (and each dead-letter write) in ``within(remaining, reserve)``; the HTTP
client and the AWS clients read ``seconds_left()`` so that no send outlives the time the dispatcher gave it,
whatever the other side does. Outside a send (tests, tools) there is no deadline: only the clients' own caps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_left: ContextVar[Callable[[], float] | None] = ContextVar("sigil_send_deadline", default=None)


@contextmanager
def within(remaining: Callable[[], float] | None, reserve: float = 0.0) -> Iterator[None]:
    """Bound the sends inside the block to end ``reserve`` seconds before ``remaining()`` reaches zero."""
    token = _left.set(None if remaining is None else lambda: remaining() - reserve)
    try:
        yield
    finally:
        _left.reset(token)


def seconds_left(cap: float) -> float:
    """Return the seconds the current send may still take: at most ``cap``, possibly zero or less."""
    left = _left.get()
    return cap if left is None else min(cap, left())
