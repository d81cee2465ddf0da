"""Event sources: turn a Lambda trigger event into raw payloads."""
