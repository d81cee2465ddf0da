"""The deterministic Lambda zip (zip.py), the bytecode of its modules (bytecode.py), and their error."""
