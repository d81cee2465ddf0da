"""Compile the bundle's Python sources to ``.pyc`` for the Lambda's interpreter.

Lambda extracts the bundle to ``/var/task``, which is read-only: Python cannot write its bytecode cache
there, so without ``.pyc`` in the zip every cold start compiles every module from source (about 0.5 s for
the 5 MB module of SigmaHQ's Windows rules). The bytecode is made by the given interpreter, in a
subprocess, as checked-hash ``.pyc`` (PEP 552): no mtime in it, so the same sources give the same bytes,
and a source edited in the Lambda console no longer matches its hash and is compiled again.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from .errors import BundleError

# Runs in ``PYTHON -I -S -c``, stdlib only, on any Python 3 (so it can say which one is too old): argv is
# the work directory (sources under ``src/``, bytecode written under ``pyc/``), stdin a JSON list of zip
# names. Prints ``{"pyc": {source name: pyc name}}`` on success; on failure one line and exit 3.
COMPILE = r"""
import json, sys
if sys.version_info < (3, 11):
    print("Python %d.%d is too old: its bytecode is not reproducible (frozenset order); use 3.11+"
          % sys.version_info[:2])
    sys.exit(3)
import importlib.util, os, py_compile
work = sys.argv[1]
tag = sys.implementation.cache_tag
if tag is None:
    print(sys.implementation.name + " has no bytecode cache (sys.implementation.cache_tag is None)")
    sys.exit(3)
names = json.load(sys.stdin)
pyc = {}
for name in names:
    target = importlib.util.cache_from_source(name, optimization="")
    try:
        py_compile.compile(
            os.path.join(work, "src", name), cfile=os.path.join(work, "pyc", target), dfile=name,
            doraise=True, optimize=0, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    except py_compile.PyCompileError as exc:
        error = exc.exc_value
        if isinstance(error, SyntaxError):
            detail = "%s: %s (line %s)" % (type(error).__name__, error.msg, error.lineno)
        else:
            detail = "%s: %s" % (type(error).__name__, error)
        print("%s does not compile: %s" % (name, detail))
        sys.exit(3)
    pyc[name] = target
print(json.dumps({"pyc": pyc}))
"""


class BytecodeError(BundleError):
    """The interpreter cannot be run, or a source does not compile with it."""


def compile_bytecode(sources: Mapping[str, bytes], python: str) -> dict[str, bytes]:
    """Map the ``.py`` of ``sources`` (zip name to bytes) to their checked-hash ``.pyc`` for ``python``,
    by zip name: ``runtime/helpers.py`` gives ``runtime/__pycache__/helpers.cpython-312.pyc``. Each pyc
    names its source by its zip name (``dfile``), never by the temporary directory it was compiled in;
    importing it from ``/var/task`` sets the real path."""
    names = sorted(name for name in sources if name.endswith(".py"))
    with tempfile.TemporaryDirectory(prefix="sigil-bytecode-") as work:
        for name in names:
            path = Path(work, "src", *PurePosixPath(name).parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sources[name])
        compiled = _run(python, work, names)
        return {
            pyc: Path(work, "pyc", *PurePosixPath(pyc).parts).read_bytes()
            for pyc in (compiled[name] for name in names)
        }


def _run(python: str, work: str, names: list[str]) -> dict[str, str]:
    """Run ``COMPILE`` with ``python`` on ``work``; return its map of source name to pyc name."""
    try:
        completed = subprocess.run(
            [python, "-I", "-S", "-c", COMPILE, work],
            input=json.dumps(names),
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise BytecodeError(f"bytecode interpreter {python} not found") from None
    except OSError as exc:
        raise BytecodeError(f"bytecode interpreter {python} cannot be run: {exc.strerror}") from None
    if completed.returncode == 3:
        raise BytecodeError(f"bytecode with {python}: {_first_line(completed.stdout)}")
    if completed.returncode != 0:
        detail = _first_line(completed.stderr) or _first_line(completed.stdout) or "no output"
        raise BytecodeError(
            f"bytecode interpreter {python} does not run (exit {completed.returncode}: {detail})"
        )
    try:
        return json.loads(completed.stdout)["pyc"]
    except (ValueError, KeyError, TypeError):
        raise BytecodeError(
            f"bytecode interpreter {python} gave unexpected output: {_first_line(completed.stdout)!r}"
        ) from None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
