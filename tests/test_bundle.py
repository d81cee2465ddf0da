"""The Lambda bundle: deterministic bytes, and a handler that runs from it alone (no dsl/, no compiler/)."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from moto_process import AlertSink, local_aws_env
from support import fake_rules
from support.fake_rules import write_handwritten_rules_package

from cli.bundle.bytecode import BytecodeError, compile_bytecode
from cli.bundle.errors import BundleError
from cli.bundle.zip import build_bundle
from cli.main import main as sigil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "kinesis" / "cloudtrail.json"
BOTO3_DEPENDENCIES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six")

# Runs in `python -I -S`: only the stdlib, the bundle and boto3's own directories are importable.
INVOKE = textwrap.dedent(
    """
    import importlib.util, json, sys
    bundle, event_path, *deps = sys.argv[1:]
    sys.path[:0] = [bundle, *deps]
    for name in ("dsl", "compiler"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable"
    # python-hcl2 (a dev dependency in these site-packages) installs a top-level `cli` of its own: Sigil's is
    # the one with cli.commands.
    assert importlib.util.find_spec("cli") is None or importlib.util.find_spec("cli.commands") is None, "cli is importable"
    import runtime, sigil_rules
    from runtime.handler import handler
    assert runtime.__file__.startswith(bundle) and sigil_rules.__file__.startswith(bundle)
    with open(event_path) as f:
        response = handler(json.load(f), None)
    print("RESPONSE " + json.dumps(response))
    """
)


# Runs in `python -I -S` with the bundle alone on sys.path: a pure-Python wheel's module and metadata load
# from the zip. (A compiled extension such as pyahocorasick's cannot be imported from a zip: Lambda extracts
# the bundle to /var/task first, so it is not tried here.)
IMPORT_FAKE_WHEEL = textwrap.dedent(
    """
    import importlib.metadata, sys
    sys.path[:0] = [sys.argv[1]]
    import fakeac
    assert fakeac.__file__.startswith(sys.argv[1]), fakeac.__file__
    print(fakeac.double(21), importlib.metadata.version("fakeac"))
    """
)
# Runs in `python -I -S -B` on an extracted bundle (as Lambda's read-only /var/task): imports the given
# modules with `compile` failing for any source of the bundle, so they import only from its bytecode.
IMPORT_WITHOUT_COMPILING = textwrap.dedent(
    """
    import builtins, importlib, sys
    task, deps, *modules = sys.argv[1:]
    sys.path[:0] = [task, *deps.split()]
    real_compile = builtins.compile
    def compile(source, filename, *args, **kwargs):
        if str(filename).startswith(task):
            raise AssertionError("compiled from source: " + str(filename))
        return real_compile(source, filename, *args, **kwargs)
    builtins.compile = compile
    for name in modules:
        module = importlib.import_module(name)
        assert module.__file__.startswith(task), module.__file__
    print("imported", *modules)
    """
)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FAKE_MODULE = b"def double(value):\n    return 2 * value\n"


def write_wheel(
    directory: Path,
    files: dict[str, bytes] | None = None,
    name: str = "fakeac",
    date_time: tuple[int, ...] = (2024, 5, 6, 7, 8, 10),
    mode: int = 0o755,
) -> Path:
    """Write ``<name>-1.0-py3-none-any.whl`` in ``directory``: a directory entry, ``files`` (default: the
    package ``<name>`` with ``double``) and a dist-info with METADATA, WHEEL and RECORD."""
    files = {f"{name}/__init__.py": FAKE_MODULE} if files is None else files
    dist_info = f"{name}-1.0.dist-info"
    members = {
        **files,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = f"{dist_info}/RECORD"
    members[record] = "".join(f"{member},,\n" for member in [*members, record]).encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(zipfile.ZipInfo(f"{name}/", date_time=date_time), b"")
        for member, data in members.items():
            info = zipfile.ZipInfo(member, date_time=date_time)
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return wheel


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """A build dir with the handwritten ``sigil_rules`` and some bytecode that must not be bundled."""
    build = write_handwritten_rules_package(tmp_path / "build")
    (build / "sigil_rules" / "__pycache__").mkdir()
    (build / "sigil_rules" / "__pycache__" / "cloudtrail.cpython-311.pyc").write_bytes(b"\0")
    return build


def boto3_paths() -> list[str]:
    """Return the directories holding boto3 and its dependencies, computed from where they are installed."""
    paths: list[str] = []
    for name in BOTO3_DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        directory = str(origin.parent.parent if spec.submodule_search_locations else origin.parent)
        if directory not in paths:
            paths.append(directory)
    return paths


class TestBuild:
    def test_deterministic(self, build_dir: Path, tmp_path: Path) -> None:
        """Building twice gives identical bytes, even after the sources' mtimes change."""
        first = build_bundle(build_dir, tmp_path / "a.zip").read_bytes()
        for path in (build_dir / "sigil_rules").iterdir():
            os.utime(path, (1_700_000_000, 1_700_000_000))
        second = build_bundle(build_dir, tmp_path / "b.zip").read_bytes()
        assert first == second

    def test_layout(self, build_dir: Path, tmp_path: Path) -> None:
        """Entries are sorted, at the zip root, with fixed timestamps and modes, and without bytecode."""
        with zipfile.ZipFile(build_bundle(build_dir, tmp_path / "out" / "sigil-lambda.zip")) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert {
            "runtime/__init__.py",
            "runtime/handler.py",
            "runtime/helpers.py",
            "sigil_rules/__init__.py",
            "sigil_rules/cloudtrail.py",
            "sigil_rules/schemas.json",
            "sigil_rules/manifest.json",
        } <= set(names)
        assert not [
            name
            for name in names
            if "__pycache__" in name or not name.startswith(("runtime/", "sigil_rules/"))
        ]
        assert {(info.date_time, info.external_attr, info.compress_type) for info in infos} == {
            ((1980, 1, 1, 0, 0, 0), 0o644 << 16, zipfile.ZIP_DEFLATED)
        }

    def test_requires_compiled_rules(self, tmp_path: Path) -> None:
        """Without ``sigil_rules`` in the build dir the bundle is refused with a hint."""
        with pytest.raises(FileNotFoundError, match="sigil compile"):
            build_bundle(tmp_path, tmp_path / "x.zip")


class TestWheels:
    def test_wheel_files_at_root(self, build_dir: Path, tmp_path: Path) -> None:
        """A wheel's files, dist-info included, land byte for byte at the zip root, with the bundle's date and
        mode; its directory entries do not."""
        wheel = write_wheel(tmp_path / "wheels")
        bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip", [wheel])
        with zipfile.ZipFile(wheel) as source:
            wheel_files = {
                info.filename: source.read(info) for info in source.infolist() if not info.is_dir()
            }
        with zipfile.ZipFile(bundle) as archive:
            infos = archive.infolist()
            bundled = {name: archive.read(name) for name in wheel_files}
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert bundled == wheel_files
        assert {"fakeac/__init__.py", "fakeac-1.0.dist-info/RECORD"} <= set(names)
        assert "fakeac/" not in names
        assert {(info.date_time, info.external_attr) for info in infos} == {(ZIP_EPOCH, 0o644 << 16)}

    def test_wheel_module_imports_from_the_zip_alone(self, build_dir: Path, tmp_path: Path) -> None:
        """In an isolated interpreter, the bundled wheel's module imports and its metadata is found."""
        bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip", [write_wheel(tmp_path / "wheels")])
        completed = subprocess.run(
            [sys.executable, "-I", "-S", "-c", IMPORT_FAKE_WHEEL, str(bundle)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.split() == ["42", "1.0"]

    def test_deterministic(self, build_dir: Path, tmp_path: Path) -> None:
        """The same files give the same bytes, whatever the dates and modes recorded in the wheel."""
        first = build_bundle(build_dir, tmp_path / "a.zip", [write_wheel(tmp_path / "one")])
        again = build_bundle(build_dir, tmp_path / "b.zip", [write_wheel(tmp_path / "one")])
        restamped = write_wheel(tmp_path / "two", date_time=(2031, 12, 31, 23, 59, 58), mode=0o600)
        other = build_bundle(build_dir, tmp_path / "c.zip", [restamped])
        assert first.read_bytes() == again.read_bytes() == other.read_bytes()

    @pytest.mark.parametrize(
        "clashing", ["runtime/handler.py", "sigil_rules/__init__.py", "fakeac/__init__.py"]
    )
    def test_clash_refused(self, clashing: str, build_dir: Path, tmp_path: Path) -> None:
        """A wheel file named like a file of runtime/, sigil_rules/ or an earlier wheel is refused, and no zip
        is written."""
        wheels = [
            write_wheel(tmp_path / "wheels"),
            write_wheel(tmp_path / "wheels", {clashing: b"x = 1\n"}, name="clasher"),
        ]
        out = tmp_path / "sigil-lambda.zip"
        message = f"clasher-1.0-py3-none-any.whl: {clashing} is already in the bundle"
        with pytest.raises(BundleError, match=re.escape(message)):
            build_bundle(build_dir, out, wheels)
        assert not out.exists()

    @pytest.mark.parametrize(
        ("name", "problem"),
        [
            ("../evil.py", "'../evil.py' is not a relative path inside the wheel"),
            ("fakeac/../../evil.py", "'fakeac/../../evil.py' is not a relative path inside the wheel"),
            ("/etc/evil.py", "'/etc/evil.py' is not a relative path inside the wheel"),
            ("C:/evil.py", "'C:/evil.py' is not a relative path inside the wheel"),
            ("fakeac\\..\\..\\evil.py", "is not a relative path inside the wheel"),
            ("fakeac/./x.py", "'fakeac/./x.py' is not a relative path inside the wheel"),
            ("runtime/__pycache__/handler.cpython-312.pyc", "runtime/__pycache__/handler.cpython-312.pyc is under 'runtime'"),
            ("runtime/extra.py", "runtime/extra.py is under 'runtime', a top-level name already in the bundle"),
            ("sigil_rules/_hooks/x.py", "is under 'sigil_rules'"),
            ("runtime.py", "runtime.py is under 'runtime'"),
            ("sigil_rules.cpython-312-x86_64-linux-gnu.so", "is under 'sigil_rules'"),
            ("fakeac/sourceless.pyc", "fakeac/sourceless.pyc is bytecode without its source"),
        ],
    )
    def test_hostile_entries_refused(self, name: str, problem: str, build_dir: Path, tmp_path: Path) -> None:
        """A wheel may add only its own top-level names, by plain relative paths, and no sourceless
        bytecode: anything else is refused with the entry named, and no zip is written."""
        wheel = write_wheel(tmp_path / "wheels", {"fakeac/__init__.py": FAKE_MODULE, name: b"x = 1\n"})
        out = tmp_path / "sigil-lambda.zip"
        with pytest.raises(BundleError, match=re.escape(problem)):
            build_bundle(build_dir, out, [wheel])
        assert not out.exists()

    def test_another_wheels_top_level_refused(self, build_dir: Path, tmp_path: Path) -> None:
        """A second wheel may not add a module inside the first wheel's package."""
        first = write_wheel(tmp_path / "one")
        second = write_wheel(tmp_path / "two", {"fakeac/patch.py": b"x = 1\n"}, name="other")
        with pytest.raises(BundleError, match=re.escape("fakeac/patch.py is under 'fakeac'")):
            build_bundle(build_dir, tmp_path / "x.zip", [first, second])

    def test_wheel_bytecode_left_out(self, build_dir: Path, tmp_path: Path) -> None:
        """A wheel's __pycache__ is not bundled: without --bytecode the bundle holds no pyc at all."""
        shipped = f"fakeac/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"
        wheel = write_wheel(tmp_path / "w", {"fakeac/__init__.py": FAKE_MODULE, shipped: b"unchecked"})
        entries = bundled(build_bundle(build_dir, tmp_path / "a.zip", [wheel]))
        assert "fakeac/__init__.py" in entries
        assert not [n for n in entries if n.endswith(".pyc")]

    def test_unrecorded_file_refused(self, build_dir: Path, tmp_path: Path) -> None:
        """A file the wheel's RECORD does not list is refused; so is a wheel without a RECORD."""
        wheel = write_wheel(tmp_path / "w")
        with zipfile.ZipFile(wheel, "a") as archive:
            archive.writestr("fakeac/hidden.py", b"x = 1\n")
        with pytest.raises(BundleError, match=re.escape("fakeac/hidden.py is not listed in the wheel's RECORD")):
            build_bundle(build_dir, tmp_path / "x.zip", [wheel])
        bare = tmp_path / "bare-1.0-py3-none-any.whl"
        with zipfile.ZipFile(bare, "w") as archive:
            archive.writestr("bare.py", b"x = 1\n")
        with pytest.raises(BundleError, match=re.escape("needs one *.dist-info/RECORD, found 0")):
            build_bundle(build_dir, tmp_path / "y.zip", [bare])

    def test_data_directory_refused(self, build_dir: Path, tmp_path: Path) -> None:
        """Files under a wheel's ``.data/`` belong elsewhere than the install root: refused, not misplaced."""
        wheel = write_wheel(tmp_path / "wheels", {"fakeac-1.0.data/scripts/tool": b"#!/bin/sh\n"})
        message = "fakeac-1.0.data/scripts/tool is in a wheel's .data directory"
        with pytest.raises(BundleError, match=re.escape(message)):
            build_bundle(build_dir, tmp_path / "sigil-lambda.zip", [wheel])


class TestBundleCommand:
    def test_adds_every_wheel_of_the_directory(self, build_dir: Path, tmp_path: Path) -> None:
        """``--wheels DIR`` adds the files of every ``*.whl`` in DIR and ignores other files."""
        wheels = tmp_path / "wheels"
        write_wheel(wheels)
        write_wheel(wheels, name="otherwheel")
        (wheels / "notes.txt").write_text("not a wheel")
        out = tmp_path / "sigil-lambda.zip"
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(out), "--wheels", str(wheels)]) == 0
        with zipfile.ZipFile(out) as archive:
            names = set(archive.namelist())
        assert {"fakeac/__init__.py", "otherwheel/__init__.py", "runtime/handler.py"} <= names
        assert "notes.txt" not in names

    def test_warns_without_the_re2_wheel(self, build_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A bundle without google-re2 is built with a warning: its Lambda runs only the regexes the fallback proves."""
        wheels = tmp_path / "wheels"
        write_wheel(wheels)
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(tmp_path / "a.zip"), "--wheels", str(wheels)]) == 0
        assert "warning: no google-re2 wheel" in capsys.readouterr().err
        write_wheel(wheels, name="google_re2")
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(tmp_path / "b.zip"), "--wheels", str(wheels)]) == 0
        assert "warning: no google-re2 wheel" not in capsys.readouterr().err

    def test_without_wheels_unchanged(self, build_dir: Path, tmp_path: Path) -> None:
        """Without ``--wheels`` the command writes exactly the bundle of runtime/ and sigil_rules/."""
        out = tmp_path / "cli.zip"
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(out)]) == 0
        assert out.read_bytes() == build_bundle(build_dir, tmp_path / "api.zip").read_bytes()

    @pytest.mark.parametrize("make_dir", [True, False], ids=["empty", "missing"])
    def test_no_wheel_in_directory(
        self, make_dir: bool, build_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A ``--wheels`` directory without any wheel exits 1 with a message, and writes nothing."""
        wheels = tmp_path / "wheels"
        if make_dir:
            wheels.mkdir()
            (wheels / "README").write_text("no wheel here")
        out = tmp_path / "sigil-lambda.zip"
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(out), "--wheels", str(wheels)]) == 1
        assert f"sigil bundle: no *.whl file in {wheels}" in capsys.readouterr().err
        assert not out.exists()

    def test_unreadable_wheel(
        self, build_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A ``.whl`` that is not a zip exits 1 with a message naming it, and writes nothing."""
        broken = tmp_path / "wheels" / "broken-1.0-py3-none-any.whl"
        broken.parent.mkdir()
        broken.write_text("not a zip")
        out = tmp_path / "sigil-lambda.zip"
        wheels = str(broken.parent)
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(out), "--wheels", wheels]) == 1
        assert f"sigil bundle: {broken}: not a wheel" in capsys.readouterr().err
        assert not out.exists()

    def test_uncompiled_build_dir(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without ``sigil_rules`` the command exits 1 with the hint, not a traceback."""
        assert sigil(["bundle", "--build", str(tmp_path), "--out", str(tmp_path / "x.zip")]) == 1
        assert "run `sigil compile` first" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layout", "outputs"), [("extracted", "topic"), ("zip", "topic"), ("zip", "override")]
)
def test_handler_runs_from_bundle_alone(
    layout: str, outputs: str, build_dir: Path, tmp_path: Path, alert_sink: AlertSink
) -> None:
    """In an isolated interpreter the bundled handler turns the sample event into one alert on its SNS output,
    named by SIGIL_ALERTS_TOPIC_ARN or by SIGIL_OUTPUTS_OVERRIDE alone."""
    bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip")
    if layout == "extracted":  # as Lambda runs it, from /var/task
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(tmp_path / "task")
        bundle = tmp_path / "task"
    env = {"PATH": os.environ.get("PATH", ""), **local_aws_env(alert_sink.endpoint_url)}
    if outputs == "topic":
        env["SIGIL_ALERTS_TOPIC_ARN"] = alert_sink.topic_arn
    else:
        env["SIGIL_OUTPUTS_OVERRIDE"] = json.dumps({"aws-sns:alerts": {"topic_arn": alert_sink.topic_arn}})
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", INVOKE, str(bundle), str(SAMPLE), *boto3_paths()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    response = [line for line in completed.stdout.splitlines() if line.startswith("RESPONSE ")]
    assert response == ['RESPONSE {"batchItemFailures": []}'], completed.stdout
    alerts = alert_sink.receive()
    assert [alert["rule_id"] for alert in alerts] == [fake_rules.RULE_ID]


@pytest.mark.slow
def test_demo_runs_on_bundle(build_dir: Path, tmp_path: Path) -> None:
    """``scripts/demo.py`` runs the bundled handler on the samples and prints the alert it read back."""
    bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--bundle", str(bundle)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert fake_rules.RULE_ID in completed.stdout
    assert completed.stdout.splitlines()[-1] == "1 alerts from 5 records"


def python312() -> str | None:
    """A Python 3.12 (the Lambda's) that runs: ``python3.12`` on PATH, else a pyenv install; None if none."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(map(str, Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for candidate in filter(None, candidates):
        probe = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"]
        if subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0:
            return candidate
    return None


def bundled(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def extract(bundle: Path, task: Path) -> Path:
    """Extract ``bundle`` to ``task``, as Lambda does to /var/task."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(task)
    return task


def import_without_compiling(
    task: Path, modules: list[str], python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Run ``IMPORT_WITHOUT_COMPILING`` with ``python`` on the extracted bundle ``task`` and ``modules``."""
    deps = " ".join(boto3_paths())
    return subprocess.run(
        [python, "-I", "-S", "-B", "-c", IMPORT_WITHOUT_COMPILING, str(task), deps, *modules],
        capture_output=True,
        text=True,
        cwd=task,
        timeout=60,
        check=False,
    )


class TestBytecode:
    def test_pyc_for_every_module(self, build_dir: Path, tmp_path: Path) -> None:
        """Every .py of runtime/ and sigil_rules/ gets its checked-hash .pyc for the interpreter, named by its
        cache tag; each names its source by its zip name, never by the temporary directory; the stale .pyc of
        the build dir is not bundled."""
        entries = bundled(
            build_bundle(build_dir, tmp_path / "sigil-lambda.zip", bytecode_python=sys.executable)
        )
        sources = sorted(name for name in entries if name.endswith(".py"))
        assert len(sources) > 10 and all(name.startswith(("runtime/", "sigil_rules/")) for name in sources)
        expected = {importlib.util.cache_from_source(name): name for name in sources}
        assert sorted(name for name in entries if name.endswith(".pyc")) == sorted(expected)
        tag = sys.implementation.cache_tag
        assert f"runtime/__pycache__/helpers.{tag}.pyc" in expected
        for pyc, source in expected.items():
            data = entries[pyc]
            assert data[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(data[4:8], "little") == 0b11, pyc  # hash-based, checked
            assert marshal.loads(data[16:]).co_filename == source
            assert b"sigil-bytecode-" not in data and str(tmp_path).encode() not in data

    def test_deterministic_across_processes(self, build_dir: Path, tmp_path: Path) -> None:
        """A build in another process (the command line) gives the same bytes, whatever the sources' mtimes."""
        first = build_bundle(build_dir, tmp_path / "a.zip", bytecode_python=sys.executable).read_bytes()
        for path in (build_dir / "sigil_rules").iterdir():
            os.utime(path, (1_700_000_000, 1_700_000_000))
        second = tmp_path / "b.zip"
        command = [
            sys.executable,
            "-m",
            "cli",
            "bundle",
            "--build",
            str(build_dir),
            "--out",
            str(second),
        ]
        completed = subprocess.run(
            [*command, "--bytecode", sys.executable],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert (
            f"bytecode: {len([n for n in bundled(second) if n.endswith('.pyc')])} modules for "
            in completed.stderr
        )
        assert first == second.read_bytes()

    def test_modules_import_from_bytecode_alone(self, build_dir: Path, tmp_path: Path) -> None:
        """From the extracted bundle, with every compile of a bundled source failing, the handler and the rule
        modules import; without --bytecode the same import fails, compiling the first source."""
        modules = ["runtime.handler", "sigil_rules", "sigil_rules.cloudtrail"]
        with_pyc = build_bundle(build_dir, tmp_path / "with.zip", bytecode_python=sys.executable)
        completed = import_without_compiling(extract(with_pyc, tmp_path / "with"), modules)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.split() == ["imported", *modules]
        without = extract(build_bundle(build_dir, tmp_path / "without.zip"), tmp_path / "without")
        completed = import_without_compiling(without, modules)
        assert completed.returncode != 0
        assert f"compiled from source: {without / 'runtime' / '__init__.py'}" in completed.stderr

    def test_edited_source_is_compiled_again(self, build_dir: Path, tmp_path: Path) -> None:
        """A source edited after the build (say in the Lambda console) no longer matches its pyc's hash: Python
        compiles it instead of running the stale bytecode."""
        bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip", bytecode_python=sys.executable)
        task = extract(bundle, tmp_path / "task")
        assert import_without_compiling(task, ["sigil_rules"]).returncode == 0
        init = task / "sigil_rules" / "__init__.py"
        init.write_text(init.read_text() + "EDITED = True\n")
        completed = import_without_compiling(task, ["sigil_rules"])
        assert f"compiled from source: {init}" in completed.stderr

    def test_wheel_modules(self, build_dir: Path, tmp_path: Path) -> None:
        """A wheel's module gets our checked-hash pyc too, in place of any the wheel ships (which may be
        unchecked); a wheel's pyc for a module of runtime/ is refused."""
        tag = sys.implementation.cache_tag
        shipped = f"fakeac/__pycache__/__init__.{tag}.pyc"
        plain = write_wheel(tmp_path / "plain")
        entries = bundled(
            build_bundle(build_dir, tmp_path / "a.zip", [plain], bytecode_python=sys.executable)
        )
        assert marshal.loads(entries[shipped][16:]).co_filename == "fakeac/__init__.py"
        own = write_wheel(tmp_path / "own", {"fakeac/__init__.py": FAKE_MODULE, shipped: b"the wheel's own"})
        ours = bundled(build_bundle(build_dir, tmp_path / "b.zip", [own], bytecode_python=sys.executable))
        assert ours[shipped] == entries[shipped]
        clashing = f"runtime/__pycache__/handler.{tag}.pyc"
        clasher = write_wheel(tmp_path / "clash", {clashing: b"x"}, name="clasher")
        with pytest.raises(BundleError, match=re.escape(f"{clashing} is under 'runtime'")):
            build_bundle(build_dir, tmp_path / "c.zip", [clasher], bytecode_python=sys.executable)

    def test_missing_interpreter(
        self, build_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An interpreter that does not exist: BundleError naming it; the command exits 1 with one line and
        writes nothing."""
        missing = str(tmp_path / "no-such-python")
        with pytest.raises(BytecodeError, match=re.escape(f"bytecode interpreter {missing} not found")):
            build_bundle(build_dir, tmp_path / "x.zip", bytecode_python=missing)
        out = tmp_path / "sigil-lambda.zip"
        assert sigil(["bundle", "--build", str(build_dir), "--out", str(out), "--bytecode", missing]) == 1
        err = capsys.readouterr().err
        assert err == f"sigil bundle: bytecode interpreter {missing} not found\n"
        assert not out.exists()

    def test_interpreter_that_fails(self, build_dir: Path, tmp_path: Path) -> None:
        """An interpreter that exists but does not run (like a pyenv shim without that version) is named with
        its exit status and first line of error; the module's command line exits 1, without traceback."""
        shim = tmp_path / "python3.12"
        shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
        with pytest.raises(
            BundleError,
            match=re.escape(f"{shim} does not run (exit 127: pyenv: python3.12: command not found)"),
        ):
            compile_bytecode({"a.py": b"x = 1\n"}, str(shim))
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "bundle",
                "--build",
                str(build_dir),
                "--out",
                str(tmp_path / "x.zip"),
                "--bytecode",
                str(shim),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 1
        assert (
            completed.stderr.startswith("sigil bundle: bytecode interpreter") and "Traceback" not in completed.stderr
        )

    def test_source_that_does_not_compile(self, build_dir: Path, tmp_path: Path) -> None:
        """A module with a syntax error is named, with the error and its line."""
        (build_dir / "sigil_rules" / "broken.py").write_text("x = 1\ndef f(:\n")
        message = "sigil_rules/broken.py does not compile: SyntaxError: invalid syntax (line 2)"
        with pytest.raises(BundleError, match=re.escape(message)):
            build_bundle(build_dir, tmp_path / "x.zip", bytecode_python=sys.executable)

    def test_lambda_python(self, build_dir: Path, tmp_path: Path) -> None:
        """Built with Python 3.12, the Lambda's, the bytecode is named cpython-312 and that Python imports the
        rule modules from it alone."""
        python = python312()
        if python is None:
            pytest.skip("no Python 3.12 that runs (python3.12 on PATH or ~/.pyenv/versions/3.12*)")
        bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip", bytecode_python=python)
        names = set(bundled(bundle))
        assert {
            "runtime/__pycache__/handler.cpython-312.pyc",
            "sigil_rules/__pycache__/cloudtrail.cpython-312.pyc",
        } <= names
        assert not [name for name in names if name.endswith(".pyc") and ".cpython-312." not in name]
        task = extract(bundle, tmp_path / "task")
        completed = import_without_compiling(task, ["sigil_rules", "sigil_rules.cloudtrail"], python)
        assert completed.returncode == 0, completed.stderr
