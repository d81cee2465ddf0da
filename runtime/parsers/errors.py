"""The error every parser raises for a payload it cannot turn into records."""


class ParseError(ValueError):
    """A payload that a parser cannot turn into records."""
