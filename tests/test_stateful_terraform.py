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


def test_state_table_is_encrypted_with_the_module_key_by_default():
    """SSE with the given key, else the module's KMS key (created or given), else aws/dynamodb; the role may use
    exactly that key, through DynamoDB only."""
    state = _load(MODULE_DIR / "state.tf")
    (table,) = [_block(r["aws_dynamodb_table"])["state"] for r in state["resource"] if "aws_dynamodb_table" in r]
    sse = _block(table["server_side_encryption"])
    assert sse["enabled"] is True
    assert sse["kms_key_arn"] == "local.state_kms_key_enabled ? local.state_kms_key_arn : null"
    found = {name: value for block in state["locals"] for name, value in block.items()}
    assert found["state_kms_key_arn"] == "var.state_kms_key_arn != null ? var.state_kms_key_arn : local.kms_key_arn"
    assert found["state_kms_key_enabled"] == "var.state_kms_key_arn != null || local.kms_key_enabled"
    kms = _load(MODULE_DIR / "kms.tf")
    module_locals = {name: value for block in kms["locals"] for name, value in block.items()}
    assert module_locals["kms_key_arn"] == "var.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn"
    assert module_locals["kms_key_enabled"] == "var.create_kms_key || var.kms_key_arn != null"
    (document,) = [_block(d["aws_iam_policy_document"])["state"] for d in state["data"] if "aws_iam_policy_document" in d]
    (use_key,) = [_block(d["statement"]) for d in _blocks(document["dynamic"])]
    assert use_key["for_each"] == "local.state_kms_key_enabled ? [local.state_kms_key_arn] : []"
    assert "kms:ViaService" in str(_block(use_key["content"])["condition"])
