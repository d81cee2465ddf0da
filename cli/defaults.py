"""The defaults of the `sigil` commands, in one place: where rules, schemas, the build and the bundle are."""

from __future__ import annotations

from pathlib import Path

DEFAULT_RULES = ["rules"]
# ./schemas when run inside a project, else the schemas shipped beside this package
DEFAULT_SCHEMAS = "schemas" if Path("schemas").is_dir() else str(Path(__file__).resolve().parents[1] / "schemas")
DEFAULT_OUT = "build"
DEFAULT_BUNDLE = Path(DEFAULT_OUT) / "sigil-lambda.zip"
DEFAULT_SOURCE = "file:local"  # `sigil classify`: the SERVICE:RESOURCE of local files, for the source map
