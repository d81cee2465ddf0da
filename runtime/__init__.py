"""Sigil's Lambda runtime: decode, parse, classify, match and publish alerts (stdlib and boto3 only)."""
