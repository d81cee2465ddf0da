"""Schema checks, lowering, optimization passes and Python code generation for rule sets."""
