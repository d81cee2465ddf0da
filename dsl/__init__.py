"""The rule language: YAML loading with positions, the condition grammar, the rule AST and its meaning."""
