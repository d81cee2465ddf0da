"""StreamAlert migration: its schemas and data_sources imported as Sigil's, its test events replayed."""
