"""`sigil replay`'s engine: rules over recorded events, read as the Lambda reads them, through the runtime."""
