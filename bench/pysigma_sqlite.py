"""The pySigma → SQLite approach (Zircolite's): rules become SQL, events rows of an in-memory table."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any


def convert(rule_paths: list[Path]) -> dict[str, str]:
    """Rule id → SQL WHERE clause, for every rule pySigma's SQLite backend converts."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    backend = sqliteBackend()
    queries = {}
    for path in rule_paths:
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            (query,) = backend.convert(collection)
        except Exception:
            continue
        rule_id = str(collection.rules[0].id)
        queries[rule_id] = query.split(" WHERE ", 1)[1]
    return queries


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def load_table(events: list[dict[str, Any]]) -> sqlite3.Connection:
    columns = sorted({k for e in events for k in e})
    db = sqlite3.connect(":memory:")
    db.create_function("regexp", 2, _regexp, deterministic=True)
    db.execute("CREATE TABLE logs (row_id INTEGER PRIMARY KEY, " + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in columns) + ")")
    placeholders = ", ".join("?" for _ in columns)
    db.executemany(
        f"INSERT INTO logs VALUES (?, {placeholders})",
        ([i, *(None if e.get(c) is None else str(e.get(c)) for c in columns)] for i, e in enumerate(events)),
    )
    return db


def run(db: sqlite3.Connection, queries: dict[str, str]) -> set[tuple[int, str]]:
    """(event index, rule id) for every match; a query SQLite rejects (unknown column) matches nothing."""
    pairs = set()
    for rule_id, where in queries.items():
        try:
            rows = db.execute(f"SELECT row_id FROM logs WHERE {where}").fetchall()
        except sqlite3.OperationalError:
            continue
        pairs.update((row, rule_id) for (row,) in rows)
    return pairs
