"""The `sigil` command line and the operator tools: one module per command under commands/, the local
replay engine under replay/, the Lambda zip under bundle/, the StreamAlert migration under streamalert/."""
