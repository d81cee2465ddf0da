"""One module per `sigil` command: ``add_parser(sub)`` registers it (``set_defaults(func=run)``), and
``run(args) -> int`` runs it and returns the exit status. cli/main.py lists them in order."""
