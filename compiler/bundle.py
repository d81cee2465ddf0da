"""Build the deterministic Lambda zip: ``runtime/**/*.py`` and the generated ``sigil_rules/`` at its root."""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNTIME_DIR = REPO_ROOT / "runtime"
PACKAGE = "sigil_rules"
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644 << 16
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def build_bundle(build_dir: Path, out: Path) -> Path:
    """Write ``out``, the same bytes for the same inputs, from ``runtime/`` and ``build_dir/sigil_rules``."""
    package_dir = Path(build_dir) / PACKAGE
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir}/__init__.py not found: run `sigil compile` first")
    entries = dict(_files(RUNTIME_DIR, "*.py"))
    entries.update(_files(package_dir, "*"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.external_attr = ZIP_FILE_MODE
            info.create_system = 3  # Unix, whatever the building OS, so external_attr means the same
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name].read_bytes())
    os.replace(partial, out)
    return out


def _files(root: Path, pattern: str) -> Iterator[tuple[str, Path]]:
    """Yield ``(zip name, path)`` for files under ``root`` matching ``pattern``, named from ``root``'s name."""
    for path in root.rglob(pattern):
        relative = path.relative_to(root.parent)
        if (
            path.is_file()
            and not SKIPPED_DIRS & set(relative.parts)
            and not path.name.endswith(SKIPPED_SUFFIXES)
        ):
            yield relative.as_posix(), path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m compiler.bundle [--build-dir build] [--out build/sigil-lambda.zip]``."""
    parser = argparse.ArgumentParser(prog="python -m compiler.bundle", description=__doc__)
    parser.add_argument(
        "--build-dir", type=Path, default=Path("build"), help="directory holding sigil_rules/"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="zip to write (default: BUILD_DIR/sigil-lambda.zip)"
    )
    args = parser.parse_args(argv)
    try:
        out = build_bundle(args.build_dir, args.out or args.build_dir / "sigil-lambda.zip")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
