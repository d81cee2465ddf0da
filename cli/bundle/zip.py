"""Build the deterministic Lambda zip: ``runtime/**/*.py``, the generated ``sigil_rules/`` and the files of
the given wheels, all at its root; optionally the bytecode of their modules for the Lambda's Python."""

from __future__ import annotations

import csv
import os
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from runtime.contract import PACKAGE

from .errors import BundleError

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO_ROOT / "runtime"
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Every entry, compiled extensions included: Lambda loads a .so with dlopen, which needs read, not execute.
ZIP_FILE_MODE = 0o644 << 16
SKIPPED_DIRS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
BYTECODE_HELP = (
    "also add the .pyc of every module, compiled by this interpreter (the Lambda's: python3.12), so that "
    "cold starts do not compile them"
)


def build_bundle(
    build_dir: Path, out: Path, wheels: Iterable[Path] = (), bytecode_python: str | None = None
) -> Path:
    """Write ``out``, the same bytes for the same inputs, from ``runtime/``, ``build_dir/sigil_rules`` and
    every file of ``wheels`` but their bytecode (``*.dist-info`` included, byte for byte).

    With ``bytecode_python`` (an interpreter: a name on PATH or a path), also the checked-hash ``.pyc`` of
    every ``.py``, compiled by that interpreter (see ``cli.bundle.bytecode``): the only pycs in the bundle."""
    package_dir = Path(build_dir) / PACKAGE
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir}/__init__.py not found: run `sigil compile` first")
    entries = {name: path.read_bytes() for name, path in _files(RUNTIME_DIR, "*.py")}
    entries.update((name, path.read_bytes()) for name, path in _files(package_dir, "*"))
    for wheel in wheels:
        _add_wheel(entries, Path(wheel))
    if bytecode_python is not None:
        _add_bytecode(entries, bytecode_python)
    out = Path(out)
    _write_zip(entries, out)
    return out


def bytecode_summary(bundle: Path) -> str | None:
    """Describe the ``.pyc`` beside the modules of ``bundle``, e.g. ``42 modules for cpython-312``; None
    when it holds none."""
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
    tags = Counter(PurePosixPath(name).suffixes[-2][1:] for name in names if _source_of(name) in names)
    if not tags:
        return None
    parts = [f"{count} module{'s' if count != 1 else ''} for {tag}" for tag, count in sorted(tags.items())]
    return ", ".join(parts)


def wheels_in(directory: Path) -> list[Path]:
    """The ``*.whl`` files of ``directory``, sorted by name; refuses a missing or wheel-less directory."""
    wheels = sorted(Path(directory).glob("*.whl"))
    if not wheels:
        raise BundleError(f"no *.whl file in {directory} (run `make wheels`, or leave out --wheels)")
    return wheels


def _add_wheel(entries: dict[str, bytes], wheel: Path) -> None:
    """Add the files of ``wheel`` to ``entries``, refusing any that would replace a file already there
    or land under a top-level name (package, module or directory) of runtime/, sigil_rules/ or another
    wheel: Python would import such a name from one of them only, so a wheel could stand in for our
    modules (say with ``runtime/__pycache__/handler.<tag>.pyc``) or another wheel's."""
    taken = {_top_level(name) for name in entries}
    files = dict(_wheel_files(wheel))
    for name in files:
        if name in entries:
            raise BundleError(
                f"{wheel.name}: {name} is already in the bundle "
                "(a wheel may not replace a file of runtime/, sigil_rules/ or another wheel)"
            )
        if _top_level(name) in taken:
            raise BundleError(
                f"{wheel.name}: {name} is under '{_top_level(name)}', a top-level name already in the bundle "
                "(a wheel may only add its own packages and modules)"
            )
    # A wheel's pyc may be unchecked (used without looking at its source): only ours, compiled from the
    # sources we ship, go in the bundle.
    entries.update((name, data) for name, data in files.items() if not name.endswith(SKIPPED_SUFFIXES))


def _top_level(name: str) -> str:
    """The import name a zip entry sits under: ``runtime`` for ``runtime/x.py``, ``six`` for ``six.py``
    and for ``six.cpython-312-x86_64-linux-gnu.so``; a dist-info directory is its own name."""
    first = name.split("/", 1)[0]
    if "/" in name or first.endswith((".dist-info", ".data")):
        return first
    return first.split(".", 1)[0]


def _add_bytecode(entries: dict[str, bytes], python: str) -> None:
    """Add the ``.pyc`` of every ``.py`` of ``entries``, compiled by ``python`` (wheels' own ``.pyc`` were
    left out, so every pyc in the bundle is our checked-hash one)."""
    from .bytecode import compile_bytecode

    sources = {name: data for name, data in entries.items() if name.endswith(".py")}
    for pyc, data in compile_bytecode(sources, python).items():
        if pyc in entries:  # cannot happen: no .pyc is taken from a wheel
            raise BundleError(f"{pyc} is already in the bundle")
        entries[pyc] = data


def _source_of(pyc: str) -> str | None:
    """``a/b.py`` for ``a/__pycache__/b.<tag>.pyc``; None for any other name."""
    path = PurePosixPath(pyc)
    if path.parent.name != "__pycache__" or path.suffix != ".pyc" or path.stem.count(".") != 1:
        return None
    return (path.parent.parent / f"{path.stem.split('.')[0]}.py").as_posix()


def _wheel_files(wheel: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` for each file of ``wheel``: its names are already those of an install root.

    Every name must be a plain relative path listed in the wheel's ``*.dist-info/RECORD``. Sourceless
    bytecode (a ``.pyc`` outside ``__pycache__/``) is refused: it could not be checked, and the module
    would not import without it."""
    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{wheel}: not a wheel ({exc})") from exc
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        recorded = _record(wheel, archive, [info.filename for info in infos])
        for info in infos:
            name = info.filename
            if not _plain_relative(name):
                raise BundleError(f"{wheel.name}: {name!r} is not a relative path inside the wheel")
            if _in_data_dir(name):
                raise BundleError(f"{wheel.name}: {name} is in a wheel's .data directory (unsupported)")
            if name not in recorded:
                raise BundleError(f"{wheel.name}: {name} is not listed in the wheel's RECORD")
            if name.endswith(SKIPPED_SUFFIXES) and "__pycache__" not in name.split("/"):
                raise BundleError(f"{wheel.name}: {name} is bytecode without its source (unsupported)")
            yield name, archive.read(info)


def _record(wheel: Path, archive: zipfile.ZipFile, names: list[str]) -> set[str]:
    """The paths the wheel's RECORD lists (itself and its signatures included); refuses a wheel without
    exactly one ``*.dist-info/RECORD`` at its root."""
    records = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        raise BundleError(f"{wheel.name}: not a wheel (it needs one *.dist-info/RECORD, found {len(records)})")
    record = records[0]
    try:
        lines = archive.read(record).decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise BundleError(f"{wheel.name}: {record} is not UTF-8 ({exc})") from exc
    listed = {row[0] for row in csv.reader(lines) if row}
    return listed | {record, record + ".jws", record + ".p7s"}


def _plain_relative(name: str) -> bool:
    """Whether ``name`` is ``a/b/c`` with no empty, ``.`` or ``..`` part, no ``\\`` and no drive or root."""
    parts = name.split("/")
    return not ("\\" in name or ":" in parts[0] or any(part in ("", ".", "..") for part in parts))


def _in_data_dir(name: str) -> bool:
    """Whether ``name`` is under ``<dist>-<version>.data/``, whose files pip installs elsewhere."""
    parts = PurePosixPath(name).parts
    return len(parts) > 1 and parts[0].endswith(".data")


def _write_zip(entries: dict[str, bytes], out: Path) -> None:
    """Write ``entries`` to ``out`` atomically, sorted, with a fixed date, mode and compression."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.external_attr = ZIP_FILE_MODE
            info.create_system = 3  # Unix, whatever the building OS, so external_attr means the same
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    os.replace(partial, out)


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

