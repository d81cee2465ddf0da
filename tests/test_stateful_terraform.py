"""The Terraform state table matches what runtime/state/dynamodb.py reads and writes."""

from __future__ import annotations

from typing import Any

from test_terraform import MODULE_DIR, _block, _blocks, _load

from runtime.state.dynamodb import DynamoStore
from runtime.stateful import FLUSH_EVENT, STATE_TABLE_ENV


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def get_item(self, **kwargs: Any) -> dict:
        self.calls.append(("get_item", kwargs))
        return {}

    def put_item(self, **kwargs: Any) -> dict:
        self.calls.append(("put_item", kwargs))
        return {}


def test_state_table_matches_the_runtime():
    """Key schema, TTL attribute (an epoch in the future), the environment variable and the flush input."""
    client = Recorder()
    DynamoStore("t", client, clock=lambda: 1000.0).update("k", lambda doc: ({"a": 1}, None))
    (item,) = [kw["Item"] for name, kw in client.calls if name == "put_item"]
    (get_key,) = [kw["Key"] for name, kw in client.calls if name == "get_item"]
    state = _load(MODULE_DIR / "state.tf")
    (table,) = [_block(r["aws_dynamodb_table"])["state"] for r in state["resource"] if "aws_dynamodb_table" in r]
    declared = {_block(a)["name"]: _block(a)["type"] for a in _blocks(table["attribute"])}
    assert declared == {name: next(iter(value)) for name, value in get_key.items()} == {table["hash_key"]: "S"}
    ttl = _block(table["ttl"])
    assert ttl["enabled"] is True and int(item[ttl["attribute_name"]]["N"]) > 1000
    main = (MODULE_DIR / "main.tf").read_text(encoding="utf-8")
    assert f"{STATE_TABLE_ENV} = aws_dynamodb_table.state[0].name" in main
    assert 'jsonencode({ sigil = "flush" })' in (MODULE_DIR / "state.tf").read_text(encoding="utf-8") and FLUSH_EVENT == {"sigil": "flush"}
