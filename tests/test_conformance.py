"""Conformance table for the rule language: every modifier and condition form, with positive and negative cases.

Each row is (id, detection YAML, event, expected). Expectations come from the Sigma spec and pySigma as
summarised in /work/shared/notes/sigma.md, not from running the code. Where Sigma leaves a choice open,
the rows follow these Sigil decisions:

- Case folding is full Unicode `str.casefold()`: 'STRASSE' equals 'straße', final 'ς' equals 'Σ', and
  no Turkish rules apply, so 'İ' folds to 'i̇' (i + U+0307), which is not a plain 'i'.
- A list in an event offers each element: a value test holds if it holds for any element.
- Numeric comparisons read numbers and numeric strings ("9"), never booleans; time parts read ISO 8601
  text (converted to UTC) or epoch seconds/milliseconds.
- `expand` placeholders are patterns; an unknown placeholder matches nothing.
- Regexes (`|re`) mean what RE2 says: `\\d \\w \\s \\b` are ASCII, `$` without `m` is the end of the text,
  `i` folds by Unicode simple case folding (no Turkish i); what RE2 cannot run is an error (E130).

Every row is also run through the compiled engine (`compiler.codegen`), on the tree as lowered and as every
optimization pass leaves it, and must give the row's outcome.
"""

from __future__ import annotations

import base64
import json
import textwrap
from dataclasses import dataclass
from functools import cache

import pytest

from compiler.codegen import generate_module
from compiler.passes import optimize
from dsl import ast
from dsl.interpreter import evaluate
from dsl.loader import load_text
from dsl.lower import rule_expr
from dsl.modifiers import KNOWN

EN_DASH, EM_DASH, HORIZONTAL_BAR, HYPHEN = "\u2013", "\u2014", "\u2015", "\u2010"


@dataclass(frozen=True)
class Case:
    """One row: the rule's detection, an event, and whether the rule must fire on it."""

    id: str
    detection: str
    event: dict
    expect: bool
    placeholders: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def placeholder_map(self) -> dict[str, list[str]] | None:
        return {name: list(values) for name, values in self.placeholders} or None


def sel(spec: str) -> str:
    """A detection whose only search identifier `selection` holds the YAML map entries `spec`."""
    return (
        "selection:\n"
        + textwrap.indent(textwrap.dedent(spec).strip("\n"), "    ")
        + "\ncondition: selection\n"
    )


def group(
    name: str, detection: str, *rows: tuple[str, dict, bool], placeholders: dict | None = None
) -> list[Case]:
    """Rows sharing one detection; each row is (label, event, expected)."""
    frozen = tuple((k, tuple(v)) for k, v in (placeholders or {}).items())
    return [
        Case(f"{name}/{label}", textwrap.dedent(detection), event, expect, frozen)
        for label, event, expect in rows
    ]


def b64(text: str, encoding: str = "utf-8", bom: bytes = b"") -> str:
    """Base64 of `text` encoded as a real producer would (PowerShell -EncodedCommand uses UTF-16LE)."""
    return base64.b64encode(bom + text.encode(encoding)).decode()


ABC = """\
a:
    A: 'x'
b:
    B: 'x'
c:
    C: 'x'
condition: {cond}
"""


def abc(cond: str) -> str:
    """Three one-field identifiers a, b, c (field A, B, C equal to 'x') under `cond`."""
    return ABC.format(cond=cond)


def on(names: str) -> dict:
    """An event where exactly the identifiers named by the letters in `names` hold."""
    return {n.upper(): "x" for n in names}


# -- maps, lists, plain values --------------------------------------------------------------------

STRUCTURE = [
    *group(
        "map-is-and",
        sel(r"""
            Image|endswith: '\powershell.exe'
            CommandLine|contains: ' -enc '
        """),
        ("both", {"Image": r"C:\Windows\powershell.exe", "CommandLine": "powershell -enc AAA"}, True),
        ("first-only", {"Image": r"C:\Windows\powershell.exe", "CommandLine": "powershell"}, False),
        ("second-only", {"Image": r"C:\Windows\cmd.exe", "CommandLine": "x -enc y"}, False),
    ),
    *group(
        "value-list-is-or",
        sel("EventID: [4624, 4625]"),
        ("second", {"EventID": 4625}, True),
        ("neither", {"EventID": 4634}, False),
    ),
    *group(
        "list-of-maps-is-or",
        """\
        selection:
            - User: 'admin'
              Action: 'login'
            - Action: 'sudo'
        condition: selection
        """,
        ("first-map", {"User": "admin", "Action": "login"}, True),
        ("second-map", {"User": "bob", "Action": "sudo"}, True),
        ("half-of-first-map", {"User": "admin", "Action": "logout"}, False),
        ("none", {"User": "bob", "Action": "login"}, False),
    ),
    *group(
        "equality-is-whole-value",
        sel(r"Image: 'C:\Windows\System32\cmd.exe'"),
        ("same", {"Image": r"C:\Windows\System32\cmd.exe"}, True),
        ("other-case", {"Image": r"c:\windows\system32\CMD.EXE"}, True),
        ("longer", {"Image": r"C:\Windows\System32\cmd.exe.bak"}, False),
        ("missing", {}, False),
    ),
    *group(
        "star-wildcard",
        sel(r"Image: 'C:\Windows*\cmd.exe'"),
        ("spans-backslashes", {"Image": r"C:\Windows\System32\cmd.exe"}, True),
        ("other-drive", {"Image": r"D:\Windows\cmd.exe"}, False),
        ("suffix-after", {"Image": r"C:\Windows\cmd.exe2"}, False),
    ),
    *group(
        "qmark-is-one-character",
        sel("Image: 'prog?.exe'"),
        ("one", {"Image": "progA.exe"}, True),
        ("zero", {"Image": "prog.exe"}, False),
        ("two", {"Image": "progAB.exe"}, False),
    ),
    *group(
        "lone-star-is-any-value",
        sel("Field: '*'"),
        ("empty", {"Field": ""}, True),
        ("text", {"Field": "x"}, True),
        ("null", {"Field": None}, False),
        ("missing", {}, False),
    ),
    *group(
        "dotted-field-path",
        sel("user.name: 'alice'"),
        ("nested", {"user": {"name": "Alice"}}, True),
        ("flat-key-with-dot", {"user.name": "alice"}, True),
        ("nested-other", {"user": {"name": "bob"}}, False),
    ),
    *group(
        "dotted-path-through-list-of-maps",
        sel("target.displayName: 'alice'"),
        ("second-element", {"target": [{"displayName": "bob"}, {"displayName": "Alice"}]}, True),
        ("no-element-matches", {"target": [{"displayName": "bob"}]}, False),
        ("elements-without-the-field", {"target": [{"id": "alice"}, "alice"]}, False),
        ("list-in-an-element", {"target": [{"displayName": ["x", "alice"]}]}, True),
        ("list-of-lists", {"target": [[{"displayName": "alice"}]]}, True),
        ("deeper-map", {"target": [{"displayName": {"alice": 1}}]}, False),
        ("exact-dotted-key-first", {"target": [{"displayName": "bob"}], "target.displayName": "alice"}, True),
    ),
    *group(
        "dotted-path-through-list-of-maps-deeper",
        sel("target.detail.name|endswith: 'ice'"),
        ("nested-in-element", {"target": [{"detail": {"name": "bob"}}, {"detail": {"name": "Alice"}}]}, True),
        ("list-twice", {"target": [{"detail": [{"name": "alice"}]}]}, True),
        ("none", {"target": [{"detail": {"name": "bob"}}]}, False),
    ),
    *group(
        "dotted-path-through-list-of-maps-presence",
        "present:\n    target.displayName|exists: true\nabsent:\n    target.displayName: null\ncondition: present and not absent\n",
        ("one-element-has-it", {"target": [{"id": 1}, {"displayName": "x"}]}, True),
        ("no-element-has-it", {"target": [{"id": 1}]}, False),
        ("empty-list", {"target": []}, False),
    ),
]

# -- numbers, numeric strings, hex strings, booleans ---------------------------------------------

NUMBERS = [
    *group(
        "yaml-number",
        sel("EventID: 4688"),
        ("int", {"EventID": 4688}, True),
        ("numeric-string", {"EventID": "4688"}, True),
        ("other-int", {"EventID": 4689}, False),
        ("longer-string", {"EventID": "46880"}, False),
    ),
    *group(
        "quoted-number",
        sel("EventID: '4688'"),
        ("int", {"EventID": 4688}, True),
        ("string", {"EventID": "4688"}, True),
        ("other", {"EventID": 4689}, False),
    ),
    *group(
        "number-with-wildcard",
        sel("EventID: '46*'"),
        ("int-prefix", {"EventID": 4688}, True),
        ("int-other", {"EventID": 5156}, False),
    ),
    *group(
        "hex-string-stays-text",
        sel("LogonId: '0x3e7'"),
        ("same-text", {"LogonId": "0x3e7"}, True),
        ("upper-hex-digits", {"LogonId": "0x3E7"}, True),
        ("decimal-int", {"LogonId": 999}, False),
        ("decimal-text", {"LogonId": "999"}, False),
    ),
    *group(
        "float",
        sel("Score: 1.5"),
        ("float", {"Score": 1.5}, True),
        ("text", {"Score": "1.5"}, True),
        ("other", {"Score": 2}, False),
    ),
    *group(
        "boolean",
        sel("Enabled: true"),
        ("bool", {"Enabled": True}, True),
        ("text-any-case", {"Enabled": "TRUE"}, True),
        ("false", {"Enabled": False}, False),
        ("one", {"Enabled": 1}, False),
    ),
]

# -- null, empty, missing --------------------------------------------------------------------------

NULLS = [
    *group(
        "null-is-null-or-missing",
        sel("Field: null"),
        ("missing", {}, True),
        ("null", {"Field": None}, True),
        ("empty", {"Field": ""}, False),
        ("text", {"Field": "x"}, False),
    ),
    *group(
        "empty-string-is-present-and-empty",
        sel("Field: ''"),
        ("empty", {"Field": ""}, True),
        ("missing", {}, False),
        ("null", {"Field": None}, False),
        ("space", {"Field": " "}, False),
    ),
    *group(
        "not-null-filter",
        """\
        selection:
            EventID: 4738
        filter:
            PasswordLastSet: null
        condition: selection and not filter
        """,
        ("set", {"EventID": 4738, "PasswordLastSet": "2024-01-01"}, True),
        ("missing", {"EventID": 4738}, False),
        ("null", {"EventID": 4738, "PasswordLastSet": None}, False),
    ),
    *group(
        "empty-list-is-null",
        sel("Field: []"),
        ("missing", {}, True),
        ("text", {"Field": "x"}, False),
    ),
    *group(
        "null-in-value-list",
        sel("Field: ['x', null]"),
        ("missing", {}, True),
        ("value", {"Field": "x"}, True),
        ("other", {"Field": "y"}, False),
    ),
]

# -- escaping ---------------------------------------------------------------------------------------

ESCAPING = [
    *group(
        "backslash-star-is-literal-star",
        sel(r"Path: 'C:\Windows\*'"),
        ("literal-star", {"Path": "C:\\Windows*"}, True),
        ("file-below", {"Path": "C:\\Windows\\system32"}, False),
    ),
    *group(
        "double-backslash-then-wildcard",
        sel(r"Path: 'C:\Windows\\*'"),
        ("file-below", {"Path": "C:\\Windows\\system32"}, True),
        ("no-separator", {"Path": "C:\\Windowsx"}, False),
    ),
    *group(
        "escaped-backslash-equals-plain",
        sel(r"Path: 'C:\\Windows\\System32'"),
        ("single-backslashes", {"Path": "C:\\Windows\\System32"}, True),
        ("doubled-backslashes", {"Path": "C:\\\\Windows\\\\System32"}, False),
    ),
    *group(
        "plain-backslash",
        sel(r"Path: 'C:\Windows\System32'"),
        ("single-backslashes", {"Path": "C:\\Windows\\System32"}, True),
        ("slashes", {"Path": "C:/Windows/System32"}, False),
    ),
    *group(
        "escaped-qmark",
        sel(r"Query: 'who\?'"),
        ("literal", {"Query": "who?"}, True),
        ("any-char", {"Query": "whom"}, False),
    ),
    *group(
        "three-backslashes-then-star",
        sel(r"Query: 'a\\\*'"),
        ("backslash-star", {"Query": "a\\*"}, True),
        ("backslash-text", {"Query": "a\\xyz"}, False),
        ("star-only", {"Query": "a*"}, False),
    ),
    *group(
        "two-backslashes-are-one",
        sel(r"Share: '\\server'"),
        ("one", {"Share": "\\server"}, True),
        ("two", {"Share": "\\\\server"}, False),
    ),
    *group(
        "four-backslashes-are-two",
        sel(r"Share: '\\\\server'"),
        ("two", {"Share": "\\\\server"}, True),
        ("one", {"Share": "\\server"}, False),
    ),
    *group(
        "three-backslashes-are-two",
        sel(r"Share: '\\\server'"),
        ("two", {"Share": "\\\\server"}, True),
        ("one", {"Share": "\\server"}, False),
    ),
    *group(
        "lone-backslash",
        sel(r"Field: '\'"),
        ("one", {"Field": "\\"}, True),
        ("two", {"Field": "\\\\"}, False),
        ("empty", {"Field": ""}, False),
    ),
    *group(
        "trailing-backslash",
        sel(r"Path: 'C:\Temp\'"),
        ("same", {"Path": "C:\\Temp\\"}, True),
        ("without", {"Path": "C:\\Temp"}, False),
    ),
    *group(
        "trailing-backslash-contains",
        sel(r"Path|contains: '\Temp\'"),
        ("inside", {"Path": "C:\\Temp\\evil.exe"}, True),
        ("at-end-without-separator", {"Path": "C:\\Temp"}, False),
        ("longer-folder", {"Path": "C:\\Temporary\\x"}, False),
    ),
    *group(
        "startswith-with-escaped-backslash-wildcard",
        sel(r"Path|startswith: 'C:\Users\\*\AppData\'"),
        ("appdata", {"Path": "C:\\Users\\bob\\AppData\\Local\\x.exe"}, True),
        ("desktop", {"Path": "C:\\Users\\bob\\Desktop\\x.exe"}, False),
    ),
]

# -- contains / startswith / endswith / all / cased -------------------------------------------------

STRINGS = [
    *group(
        "contains",
        sel("CommandLine|contains: 'sekurlsa::'"),
        ("inside-other-case", {"CommandLine": "mimikatz SEKURLSA::logonpasswords"}, True),
        ("shorter", {"CommandLine": "sekurlsa:"}, False),
    ),
    *group(
        "contains-with-inner-wildcard",
        sel("CommandLine|contains: 'invoke-*-command'"),
        ("both-parts", {"CommandLine": "x Invoke-Expr-Command y"}, True),
        ("shared-dash", {"CommandLine": "invoke-command"}, False),
    ),
    *group(
        "startswith",
        sel("CommandLine|startswith: 'cmd /c'"),
        ("prefix", {"CommandLine": "CMD /c dir"}, True),
        ("not-at-start", {"CommandLine": " cmd /c dir"}, False),
    ),
    *group(
        "endswith",
        sel(r"Image|endswith: '\rundll32.exe'"),
        ("suffix", {"Image": "C:\\Windows\\RUNDLL32.EXE"}, True),
        ("not-at-end", {"Image": "C:\\Windows\\rundll32.exe.mui"}, False),
    ),
    *group(
        "contains-all",
        sel("CommandLine|contains|all: ['-w hidden', '-enc']"),
        ("both", {"CommandLine": "powershell -w hidden -enc AA"}, True),
        ("both-other-order", {"CommandLine": "powershell -enc AA -w hidden"}, True),
        ("one", {"CommandLine": "powershell -enc AA"}, False),
    ),
    *group(
        "all-with-one-value",
        sel("CommandLine|contains|all: 'vssadmin'"),
        ("present", {"CommandLine": "vssadmin delete shadows"}, True),
        ("absent", {"CommandLine": "wmic shadowcopy delete"}, False),
    ),
    *group(
        "all-without-contains",
        sel("Tag|all: ['a', 'b']"),
        ("scalar-cannot-equal-both", {"Tag": "a"}, False),
        ("list-holding-both", {"Tag": ["a", "b"]}, True),
        ("list-holding-one", {"Tag": ["a", "c"]}, False),
    ),
    *group(
        "cased-equality",
        sel("Image|cased: 'PowerShell.exe'"),
        ("same-case", {"Image": "PowerShell.exe"}, True),
        ("other-case", {"Image": "powershell.exe"}, False),
    ),
    *group(
        "cased-contains",
        sel("CommandLine|contains|cased: 'Mimikatz'"),
        ("same-case", {"CommandLine": "run Mimikatz now"}, True),
        ("other-case", {"CommandLine": "run mimikatz now"}, False),
    ),
    *group(
        "cased-wildcard",
        sel("Name|cased: 'Foo*'"),
        ("same-case", {"Name": "Foobar"}, True),
        ("other-case", {"Name": "foobar"}, False),
    ),
]

# -- case folding beyond ASCII (decision: full Unicode casefold, no locale rules) ------------------

FOLDING = [
    *group(
        "sharp-s-folds-to-ss",
        sel("Street: 'STRASSE'"),
        ("sharp-s", {"Street": "straße"}, True),
        ("other-word", {"Street": "strase"}, False),
    ),
    *group(
        "sharp-s-cased",
        sel("Street|cased: 'STRASSE'"),
        ("same", {"Street": "STRASSE"}, True),
        ("sharp-s", {"Street": "straße"}, False),
    ),
    *group(
        "sharp-s-contains",
        sel("Street|contains: 'straße'"),
        ("upper-ss", {"Street": "HAUPTSTRASSE 1"}, True),
        ("other", {"Street": "HAUPTWEG 1"}, False),
    ),
    *group(
        "greek-final-sigma",
        sel("Word: 'ΟΔΟΣ'"),
        ("final-sigma", {"Word": "οδος"}, True),
        ("other", {"Word": "οδοι"}, False),
    ),
    *group(
        "cyrillic",
        sel("User: 'АДМИН'"),
        ("lower", {"User": "админ"}, True),
        ("latin-lookalike", {"User": "admin"}, False),
    ),
    *group(
        "dotted-capital-i",
        sel("City: 'İSTANBUL'"),
        ("i-with-combining-dot", {"City": "i\u0307stanbul"}, True),
        ("plain-i", {"City": "istanbul"}, False),
    ),
    *group(
        "dotless-i",
        sel("City: 'ISTANBUL'"),
        ("plain-i", {"City": "istanbul"}, True),
        ("dotless-i", {"City": "ıstanbul"}, False),
    ),
]

# -- windash ---------------------------------------------------------------------------------------

WINDASH = [
    *group(
        "windash-five-dashes",
        sel("CommandLine|windash|contains: '-nop'"),
        ("hyphen-minus", {"CommandLine": "powershell -nop"}, True),
        ("slash", {"CommandLine": "powershell /nop"}, True),
        ("en-dash", {"CommandLine": f"powershell {EN_DASH}nop"}, True),
        ("em-dash", {"CommandLine": f"powershell {EM_DASH}nop"}, True),
        ("horizontal-bar", {"CommandLine": f"powershell {HORIZONTAL_BAR}nop"}, True),
        ("unicode-hyphen-not-included", {"CommandLine": f"powershell {HYPHEN}nop"}, False),
        ("backslash", {"CommandLine": "powershell \\nop"}, False),
        ("no-dash", {"CommandLine": "powershell nop"}, False),
    ),
    *group(
        "windash-slash-value",
        sel("CommandLine|windash|contains: ' /c '"),
        ("dash", {"CommandLine": "cmd.exe -c whoami"}, True),
        ("none", {"CommandLine": "cmd.exe c whoami"}, False),
    ),
    *group(
        "windash-not-inside-word",
        sel("CommandLine|windash|contains: 'x-nop'"),
        ("same", {"CommandLine": "run x-nop"}, True),
        ("slash", {"CommandLine": "run x/nop"}, False),
    ),
    *group(
        "windash-only-word-start",
        sel("CommandLine|contains|windash: '-foo-bar'"),
        ("first-swapped", {"CommandLine": "x /foo-bar"}, True),
        ("both-swapped", {"CommandLine": "x /foo/bar"}, False),
    ),
    *group(
        "windash-two-dashes",
        sel("CommandLine|windash|contains: '-a -b'"),
        ("mixed", {"CommandLine": f"tool /a {EM_DASH}b"}, True),
        ("second-missing", {"CommandLine": "tool /a b"}, False),
    ),
    *group(
        "windash-all",
        sel("CommandLine|windash|contains|all: ['-nop', '-w hidden']"),
        ("both-any-dash", {"CommandLine": f"powershell /nop {EN_DASH}w hidden"}, True),
        ("one", {"CommandLine": "powershell /nop"}, False),
    ),
    *group(
        "windash-whole-value",
        sel("CommandLine|windash: '-h'"),
        ("slash", {"CommandLine": "/h"}, True),
        ("inside", {"CommandLine": "x /h"}, False),
    ),
]

# -- base64, base64offset and the UTF-16 encodings --------------------------------------------------

URL_TEXT = "http://evil.example/x"
MIMI = "Invoke-Mimikatz -DumpCreds"

BASE64 = [
    *group(
        "base64-whole-value",
        sel("Data|base64: 'secret'"),
        ("encoded", {"Data": b64("secret")}, True),
        ("longer-plaintext", {"Data": b64("secret!")}, False),
        ("plaintext", {"Data": "secret"}, False),
    ),
    *group(
        "base64-contains",
        sel("Data|base64|contains: 'abc'"),
        ("inside", {"Data": "xx" + b64("abc") + "yy"}, True),
        ("other", {"Data": b64("abd")}, False),
    ),
    *group(
        "base64offset-three-shifts",
        sel("CommandLine|base64offset|contains: 'http://'"),
        ("shift-0", {"CommandLine": "x -enc " + b64(URL_TEXT + " end")}, True),
        ("shift-1", {"CommandLine": "x -enc " + b64("a" + URL_TEXT + " end")}, True),
        ("shift-2", {"CommandLine": "x -enc " + b64("ab" + URL_TEXT + " end")}, True),
        ("at-end-shift-1", {"CommandLine": b64("ahttp://")}, True),
        ("at-end-shift-2", {"CommandLine": b64("abhttp://")}, True),
        ("other-text-shift-0", {"CommandLine": b64("hxxp://evil.example/x end")}, False),
        ("other-text-shift-1", {"CommandLine": b64("ahxxp://evil.example/x end")}, False),
        ("other-text-shift-2", {"CommandLine": b64("abhxxp://evil.example/x end")}, False),
        ("plaintext-not-encoded", {"CommandLine": URL_TEXT}, False),
    ),
    *group(
        "wide-base64offset-powershell",
        sel("CommandLine|wide|base64offset|contains: 'Invoke-Mimikatz'"),
        ("shift-0", {"CommandLine": "powershell.exe -EncodedCommand " + b64(MIMI, "utf-16-le")}, True),
        ("shift-2", {"CommandLine": "powershell.exe -EncodedCommand " + b64("x" + MIMI, "utf-16-le")}, True),
        ("shift-1", {"CommandLine": "powershell.exe -EncodedCommand " + b64("xy" + MIMI, "utf-16-le")}, True),
        ("utf8-not-wide", {"CommandLine": "powershell.exe -EncodedCommand " + b64(MIMI)}, False),
        (
            "other-command",
            {"CommandLine": "powershell.exe -e " + b64("Invoke-Mimikittens", "utf-16-le")},
            False,
        ),
    ),
    *group(
        "utf16le-alias",
        sel("CommandLine|utf16le|base64offset|contains: 'whoami'"),
        ("wide", {"CommandLine": b64("cmd /c whoami /all", "utf-16-le")}, True),
        ("utf8", {"CommandLine": b64("cmd /c whoami /all")}, False),
    ),
    *group(
        "utf16be",
        sel("Data|utf16be|base64offset|contains: 'abc'"),
        ("big-endian", {"Data": b64("zabc", "utf-16-be")}, True),
        ("little-endian", {"Data": b64("abc", "utf-16-le")}, False),
    ),
    *group(
        "utf16-with-bom",
        sel("Data|utf16|base64offset|contains: 'abc'"),
        ("bom-then-value", {"Data": b64("abc def", "utf-16-le", bom=b"\xff\xfe")}, True),
        ("value-without-bom", {"Data": b64("xx abc", "utf-16-le")}, False),
    ),
    *group(
        "wide-base64",
        sel("Data|wide|base64: 'abc'"),
        ("wide", {"Data": b64("abc", "utf-16-le")}, True),
        ("utf8", {"Data": b64("abc")}, False),
    ),
]

# -- re --------------------------------------------------------------------------------------------

REGEX = [
    *group(
        "re-substring",
        sel(r"CommandLine|re: 'net\s+user\s+\S+\s+\S+\s+/add'"),
        ("inside", {"CommandLine": "cmd /c net user bob Pa55 /add"}, True),
        ("incomplete", {"CommandLine": "net user bob"}, False),
    ),
    *group(
        "re-anchored",
        sel(r"Image|re: '^C:\\Windows\\'"),
        ("at-start", {"Image": "C:\\Windows\\x.exe"}, True),
        ("inside", {"Image": "D:\\C:\\Windows\\x.exe"}, False),
    ),
    *group(  # RE2 folds case by Unicode simple case folding: no Turkish rules, as for plain values
        "re-inline-i-turkish-i",
        sel("Name|re: '(?i)mimikatz'"),
        ("capital", {"Name": "run MIMIKATZ now"}, True),
        ("dotted-capital", {"Name": "run M\u0130M\u0130KATZ now"}, False),
        ("dotless", {"Name": "run m\u0131m\u0131katz now"}, False),
        ("absent", {"Name": "run mimi now"}, False),
    ),
    *group(  # ... but the Kelvin sign and the long s fold to k and s
        "re-i-simple-folding",
        sel("Name|re|i: '^kiss$'"),
        ("kelvin-long-s", {"Name": "\u212aIS\u017f"}, True),
        ("sharp-s", {"Name": "ki\u00df"}, False),
    ),
    *group(  # regexes run on RE2: \d, \w, \s and \b are ASCII, as in PCRE, which Sigma's regexes follow
        "re-digit-ascii",
        sel(r"Id|re: '^\d+$'"),
        ("ascii", {"Id": "4688"}, True),
        ("arabic-indic", {"Id": "\u0664\u0666"}, False),
    ),
    *group(
        "re-word-ascii",
        sel(r"User|re: '^\w+$'"),
        ("ascii", {"User": "bob_1"}, True),
        ("accented", {"User": "jos\u00e9"}, False),
    ),
    *group(
        "re-boundary-ascii",
        sel(r"Text|re: '\bcmd\b'"),
        ("spaces", {"Text": "run cmd now"}, True),
        ("after-accented-letter", {"Text": "\u00e9cmd"}, True),
        ("after-ascii-letter", {"Text": "xcmd"}, False),
    ),
    *group(
        "re-space-ascii",
        sel(r"Text|re: 'a\sb'"),
        ("tab", {"Text": "a\tb"}, True),
        ("no-break-space", {"Text": "a\u00a0b"}, False),
    ),
    *group(  # $ without m is the end of the text: not also before a final newline, as in Python's re
        "re-dollar-end-of-text",
        sel("Text|re: 'bar$'"),
        ("end", {"Text": "foo bar"}, True),
        ("before-final-newline", {"Text": "foo bar\n"}, False),
    ),
    *group(
        "re-unicode-class",
        sel(r"Name|re: '^\pL+$'"),
        ("letters", {"Name": "jos\u00e9"}, True),
        ("digit", {"Name": "jos3"}, False),
    ),
    *group(
        "re-posix-class",
        sel("Name|re: '^[[:digit:]]+x$'"),
        ("digits", {"Name": "42x"}, True),
        ("letters", {"Name": "ab]x"}, False),
    ),
    *group(  # patterns that backtrack for seconds in Python's re run in linear time
        "re-alternation-star",
        sel("Text|re: '^(a|a)*$'"),
        ("adversarial", {"Text": "a" * 30 + "!"}, False),
        ("all-a", {"Text": "a" * 30}, True),
    ),
    *group(
        "re-counted-dot-star",
        sel("Text|re: '(.*a){10}$'"),
        ("adversarial", {"Text": "a" * 30 + "!"}, False),
        ("ten-a", {"Text": "xa" * 10}, True),
    ),
    *group(
        "re-nested-plus",
        sel("Text|re: '(x+x+)+y'"),
        ("adversarial", {"Text": "x" * 30}, False),
        ("ends-y", {"Text": "x" * 30 + "y"}, True),
    ),
    *group(
        "re-case-sensitive",
        sel("Name|re: 'Mimikatz'"),
        ("same-case", {"Name": "x Mimikatz"}, True),
        ("other-case", {"Name": "x mimikatz"}, False),
    ),
    *group(
        "re-i",
        sel("Name|re|i: 'Mimikatz'"),
        ("other-case", {"Name": "x MIMIKATZ"}, True),
        ("absent", {"Name": "mimi"}, False),
    ),
    *group(
        "re-without-m",
        sel("Text|re: '^bar$'"),
        ("second-line", {"Text": "foo\nbar"}, False),
        ("whole", {"Text": "bar"}, True),
    ),
    *group(
        "re-m",
        sel("Text|re|m: '^bar$'"),
        ("second-line", {"Text": "foo\nbar"}, True),
        ("no-line", {"Text": "foobar"}, False),
    ),
    *group(
        "re-without-s",
        sel("Text|re: 'foo.bar'"),
        ("newline", {"Text": "foo\nbar"}, False),
        ("char", {"Text": "foo-bar"}, True),
    ),
    *group(
        "re-s",
        sel("Text|re|s: 'foo.bar'"),
        ("newline", {"Text": "foo\nbar"}, True),
        ("no-char", {"Text": "foobar"}, False),
    ),
    *group(
        "re-star-is-quantifier",
        sel("Text|re: '^a*b$'"),
        ("no-a", {"Text": "b"}, True),
        ("sigma-wildcard-reading", {"Text": "axyzb"}, False),
    ),
    *group(
        "re-all",
        sel("Text|re|all: ['foo', 'bar']"),
        ("both", {"Text": "foobar"}, True),
        ("one", {"Text": "foo"}, False),
    ),
    *group(
        "re-on-number",
        sel(r"EventID|re: '^46\d\d$'"),
        ("int", {"EventID": 4688}, True),
        ("other-int", {"EventID": 4700}, False),
    ),
]

# -- cidr ------------------------------------------------------------------------------------------

CIDR = [
    *group(
        "cidr-v4-8",
        sel("Ip|cidr: '10.0.0.0/8'"),
        ("first", {"Ip": "10.0.0.0"}, True),
        ("last", {"Ip": "10.255.255.255"}, True),
        ("just-below", {"Ip": "9.255.255.255"}, False),
        ("just-above", {"Ip": "11.0.0.0"}, False),
        ("not-an-address", {"Ip": "not-an-ip"}, False),
        ("missing", {}, False),
    ),
    *group(
        "cidr-v4-24",
        sel("Ip|cidr: '192.168.1.0/24'"),
        ("first", {"Ip": "192.168.1.0"}, True),
        ("last", {"Ip": "192.168.1.255"}, True),
        ("just-below", {"Ip": "192.168.0.255"}, False),
        ("just-above", {"Ip": "192.168.2.0"}, False),
    ),
    *group(
        "cidr-v6-32",
        sel("Ip|cidr: '2001:db8::/32'"),
        ("first", {"Ip": "2001:db8::"}, True),
        ("last", {"Ip": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, True),
        ("other-spelling", {"Ip": "2001:DB8:0:0::1"}, True),
        ("just-below", {"Ip": "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"}, False),
        ("just-above", {"Ip": "2001:db9::"}, False),
        ("v4-address", {"Ip": "10.0.0.1"}, False),
    ),
    *group(
        "cidr-v6-host",
        sel("Ip|cidr: '::1/128'"),
        ("host", {"Ip": "::1"}, True),
        ("next", {"Ip": "::2"}, False),
    ),
    *group(
        "cidr-list-is-or",
        sel("Ip|cidr: ['10.0.0.0/8', '172.16.0.0/12']"),
        ("second-last", {"Ip": "172.31.255.255"}, True),
        ("second-above", {"Ip": "172.32.0.0"}, False),
    ),
    *group(
        "cidr-negated",
        """\
        selection:
            Ip|cidr: ['10.0.0.0/8', '192.168.0.0/16']
        condition: not selection
        """,
        ("public", {"Ip": "8.8.8.8"}, True),
        ("private", {"Ip": "10.1.1.1"}, False),
    ),
]

# -- lt / lte / gt / gte -----------------------------------------------------------------------------

COMPARE = [
    *group(
        "lt",
        sel("Count|lt: 10"),
        ("below", {"Count": 9}, True),
        ("fraction-below", {"Count": 9.5}, True),
        ("numeric-string", {"Count": "9"}, True),
        ("equal", {"Count": 10}, False),
        ("text", {"Count": "nine"}, False),
        ("missing", {}, False),
    ),
    *group(
        "lte",
        sel("Count|lte: 10"),
        ("equal", {"Count": 10}, True),
        ("above", {"Count": 11}, False),
    ),
    *group(
        "gt",
        sel("Count|gt: 10"),
        ("above", {"Count": 11}, True),
        ("equal", {"Count": 10}, False),
        ("boolean-is-not-a-number", {"Count": True}, False),
    ),
    *group(
        "gte",
        sel("Count|gte: 10"),
        ("equal", {"Count": 10}, True),
        ("numeric-string-equal", {"Count": "10"}, True),
        ("below", {"Count": 9}, False),
    ),
    *group(
        "gt-float",
        sel("Ratio|gt: 1.5"),
        ("above", {"Ratio": 1.6}, True),
        ("equal", {"Ratio": 1.5}, False),
    ),
    *group(
        "range-from-two-identifiers",
        """\
        low:
            Size|gte: 100
        high:
            Size|lt: 200
        condition: low and high
        """,
        ("inside", {"Size": 150}, True),
        ("lower-edge", {"Size": 100}, True),
        ("upper-edge", {"Size": 200}, False),
        ("below", {"Size": 99}, False),
    ),
]

# -- exists, fieldref, neq, expand -------------------------------------------------------------------

FIELD_TESTS = [
    *group(
        "exists-true",
        sel("Field|exists: true"),
        ("text", {"Field": "x"}, True),
        ("empty", {"Field": ""}, True),
        ("null-is-present", {"Field": None}, True),
        ("missing", {}, False),
    ),
    *group(
        "exists-false",
        sel("Field|exists: false"),
        ("missing", {}, True),
        ("null-is-present", {"Field": None}, False),
        ("empty", {"Field": ""}, False),
    ),
    *group(
        "fieldref",
        sel("TargetUserName|fieldref: SubjectUserName"),
        ("equal", {"TargetUserName": "alice", "SubjectUserName": "alice"}, True),
        ("equal-other-case", {"TargetUserName": "Alice", "SubjectUserName": "aLICE"}, True),
        ("different", {"TargetUserName": "alice", "SubjectUserName": "bob"}, False),
        ("other-missing", {"TargetUserName": "alice"}, False),
        ("both-missing", {}, False),
        ("wildcard-in-other-is-literal", {"TargetUserName": "abc", "SubjectUserName": "a*"}, False),
    ),
    *group(
        "fieldref-contains",
        sel("CommandLine|fieldref|contains: Image"),
        ("inside", {"CommandLine": "c:\\x\\a.exe -arg", "Image": "C:\\X\\A.EXE"}, True),
        ("absent", {"CommandLine": "b.exe -arg", "Image": "a.exe"}, False),
    ),
    *group(
        "fieldref-startswith",
        sel("Image|fieldref|startswith: CurrentDirectory"),
        ("prefix", {"Image": "C:\\Temp\\x.exe", "CurrentDirectory": "C:\\Temp\\"}, True),
        ("elsewhere", {"Image": "C:\\Windows\\x.exe", "CurrentDirectory": "C:\\Temp\\"}, False),
    ),
    *group(
        "fieldref-endswith",
        sel("Image|fieldref|endswith: OriginalFileName"),
        ("suffix", {"Image": "C:\\w\\cmd.exe", "OriginalFileName": "Cmd.Exe"}, True),
        ("not-at-end", {"Image": "C:\\w\\cmd.exe.bak", "OriginalFileName": "cmd.exe"}, False),
    ),
    *group(
        "fieldref-cased",
        sel("A|fieldref|cased: B"),
        ("same-case", {"A": "Admin", "B": "Admin"}, True),
        ("other-case", {"A": "Admin", "B": "admin"}, False),
    ),
    *group(
        "neq",
        sel("User|neq: 'admin'"),
        ("other", {"User": "bob"}, True),
        ("missing", {}, True),
        ("same-other-case", {"User": "ADMIN"}, False),
    ),
    *group(
        "neq-list-is-not-of-or",
        sel("User|neq: ['admin', 'root']"),
        ("neither", {"User": "bob"}, True),
        ("second", {"User": "root"}, False),
    ),
    *group(
        "neq-contains",
        sel("CommandLine|contains|neq: 'debug'"),
        ("absent", {"CommandLine": "run"}, True),
        ("present", {"CommandLine": "x DEBUG"}, False),
    ),
    *group(
        "neq-all-is-not-of-and",
        sel("CommandLine|contains|all|neq: ['a', 'b']"),
        ("one", {"CommandLine": "a"}, True),
        ("both", {"CommandLine": "ab"}, False),
    ),
    *group(
        "expand",
        sel("User|expand: '%Administrators%'"),
        ("first-value", {"User": "ROOT"}, True),
        ("pattern-value", {"User": "administrator"}, True),
        ("other", {"User": "bob"}, False),
        placeholders={"Administrators": ["root", "admin*"]},
    ),
    *group(
        "expand-inside-text",
        sel("Mail|expand: '%user%@corp.example'"),
        ("expanded", {"Mail": "BOB@corp.example"}, True),
        ("other-user", {"Mail": "alice@corp.example"}, False),
        placeholders={"user": ["bob"]},
    ),
    *group(
        "expand-after-backslash-is-escaped",
        sel(r"Path|expand: 'C:\Users\%user%\Desktop'"),
        ("literal-percent", {"Path": "C:\\Users%user%\\Desktop"}, True),
        ("expanded", {"Path": "C:\\Users\\bob\\Desktop"}, False),
        placeholders={"user": ["bob"]},
    ),
    *group(
        "expand-escaped-percent",
        sel(r"Path|expand: '\%plain%name%'"),
        ("plain-then-value", {"Path": "%plainX"}, True),
        ("backslash-kept", {"Path": "\\%plainX"}, False),
        placeholders={"name": ["x"]},
    ),
    *group(
        "expand-unknown-placeholder",
        sel("User|expand: '%Administrators%'"),
        ("literal-text", {"User": "%Administrators%"}, False),
        ("any-name", {"User": "root"}, False),
    ),
    *group(
        "percent-without-expand-is-literal",
        sel("Path: '%APPDATA%\\x.exe'"),
        ("literal", {"Path": "%appdata%\\x.exe"}, True),
        ("expanded-path", {"Path": "C:\\Users\\bob\\AppData\\Roaming\\x.exe"}, False),
    ),
]

# -- time parts (2024-03-05T10:15:30Z is ISO week 10; epoch 1709633730) ------------------------------

STAMP = "2024-03-05T10:15:30Z"

TIME = [
    *group(
        "minute",
        sel("ts|minute: 15"),
        ("same", {"ts": STAMP}, True),
        ("other", {"ts": "2024-03-05T10:16:30Z"}, False),
    ),
    *group(
        "hour",
        sel("ts|hour: 10"),
        ("same", {"ts": STAMP}, True),
        ("epoch-seconds", {"ts": 1709633730}, True),
        ("epoch-milliseconds", {"ts": 1709633730000}, True),
        ("other", {"ts": "2024-03-05T11:15:30Z"}, False),
        ("not-a-time", {"ts": "garbage"}, False),
        ("missing", {}, False),
    ),
    *group(
        "hour-is-utc",
        sel("ts|hour: 22"),
        ("offset-converted", {"ts": "2024-03-05T00:30:00+02:00"}, True),
        ("local-hour-not-used", {"ts": "2024-03-05T22:30:00+02:00"}, False),
    ),
    *group(
        "day",
        sel("ts|day: 5"),
        ("same", {"ts": STAMP}, True),
        ("offset-crosses-midnight", {"ts": "2024-03-05T00:30:00+02:00"}, False),
    ),
    *group(
        "week",
        sel("ts|week: 10"),
        ("same", {"ts": STAMP}, True),
        ("monday-of-week-10", {"ts": "2024-03-04T00:00:00Z"}, True),
        ("sunday-before", {"ts": "2024-03-03T23:59:59Z"}, False),
    ),
    *group(
        "month",
        sel("ts|month: 3"),
        ("same", {"ts": STAMP}, True),
        ("other", {"ts": "2024-04-05T10:15:30Z"}, False),
    ),
    *group(
        "year",
        sel("ts|year: 2024"),
        ("same", {"ts": STAMP}, True),
        ("other", {"ts": "2023-03-05T10:15:30Z"}, False),
    ),
    *group(
        "hour-gte-sigil-extension",
        sel("ts|hour|gte: 9"),
        ("after", {"ts": STAMP}, True),
        ("before", {"ts": "2024-03-05T08:59:59Z"}, False),
    ),
]

# -- lists in events -----------------------------------------------------------------------------------

EVENT_LISTS = [
    *group(
        "list-any-element",
        sel("Tags: 'admin'"),
        ("second-element", {"Tags": ["user", "ADMIN"]}, True),
        ("no-element", {"Tags": ["user"]}, False),
        ("empty-list", {"Tags": []}, False),
    ),
    *group(
        "list-negated",
        """\
        selection:
            Tags: 'admin'
        condition: not selection
        """,
        ("holds-admin", {"Tags": ["user", "admin"]}, False),
        ("no-admin", {"Tags": ["user"]}, True),
    ),
    *group(
        "list-contains",
        sel("Args|contains: 'hidden'"),
        ("element", {"Args": ["-nop", "-w hidden"]}, True),
        ("no-element", {"Args": ["-nop"]}, False),
    ),
    *group(
        "list-numbers",
        sel("Ports|gt: 1024"),
        ("one-above", {"Ports": [80, 8080]}, True),
        ("none-above", {"Ports": [80, 443]}, False),
    ),
    *group(
        "list-cidr",
        sel("Ips|cidr: '10.0.0.0/8'"),
        ("one-inside", {"Ips": ["8.8.8.8", "10.0.0.1"]}, True),
        ("none-inside", {"Ips": ["8.8.8.8"]}, False),
    ),
    *group(
        "list-neq",
        sel("Tags|neq: 'admin'"),
        ("holds-admin", {"Tags": ["user", "admin"]}, False),
        ("no-admin", {"Tags": ["user", "guest"]}, True),
    ),
]

# -- keyword searches ----------------------------------------------------------------------------------

KEYWORDS = [
    *group(
        "keywords-list",
        """\
        keywords:
            - 'monitor capture point'
            - 'event::drop'
        condition: keywords
        """,
        ("phrase-any-case", {"msg": "x Monitor Capture Point y"}, True),
        ("nested-list-value", {"a": {"b": ["x", "EVENT::DROP now"]}}, True),
        ("field-names-not-searched", {"monitor capture point": "x"}, False),
        ("partial-phrase", {"msg": "monitor point"}, False),
    ),
    *group(
        "keyword-scalar",
        """\
        keywords: 'mimikatz'
        condition: keywords
        """,
        ("inside", {"Image": "C:\\tools\\mimikatz.exe"}, True),
        ("absent", {"Image": "C:\\tools\\calc.exe"}, False),
    ),
    *group(
        "keywords-all",
        """\
        keywords:
            '|all':
                - 'OabVirtualDirectory'
                - ' -ExternalUrl '
        condition: keywords
        """,
        ("same-field", {"cmd": "Set-OabVirtualDirectory -ExternalUrl http://x"}, True),
        ("different-fields", {"a": "Set-OabVirtualDirectory", "b": "x -ExternalUrl y"}, True),
        ("one", {"cmd": "Set-OabVirtualDirectory -InternalUrl http://x"}, False),
    ),
    *group(
        "keyword-number",
        """\
        keywords: [4688]
        condition: keywords
        """,
        ("int-field", {"EventID": 4688}, True),
        ("substring-of-number", {"EventID": 46880}, True),
        ("other", {"EventID": 4689}, False),
    ),
    *group(
        "keyword-wildcard",
        """\
        keywords: ['evil*.ps1']
        condition: keywords
        """,
        ("spanning", {"msg": "run EVILscript.ps1 now"}, True),
        ("short", {"msg": "evil.ps"}, False),
    ),
    *group(
        "keyword-windash",
        """\
        keywords:
            '|windash': ['-nop']
        condition: keywords
        """,
        ("slash", {"msg": "powershell /nop"}, True),
        ("none", {"msg": "powershell nop"}, False),
    ),
    *group(
        "keyword-cased",
        """\
        keywords:
            '|cased': ['Mimikatz']
        condition: keywords
        """,
        ("same-case", {"msg": "Mimikatz"}, True),
        ("other-case", {"msg": "mimikatz"}, False),
    ),
    *group(
        "keywords-and-selection",
        """\
        selection:
            EventID: 1
        keywords: ['mimikatz']
        condition: selection and keywords
        """,
        ("both", {"EventID": 1, "cmd": "mimikatz"}, True),
        ("keyword-only", {"EventID": 2, "cmd": "mimikatz"}, False),
    ),
]

# -- conditions ----------------------------------------------------------------------------------------

SELECTORS = """\
sel1:
    A: 'x'
sel2:
    B: 'x'
filter1:
    C: 'x'
_helper:
    D: 'x'
condition: {cond}
"""


def sels(cond: str) -> str:
    """Identifiers sel1 (A), sel2 (B), filter1 (C) and _helper (D) under `cond`."""
    return SELECTORS.format(cond=cond)


CONDITIONS = [
    *group(
        "and", abc("a and b"), ("both", on("ab"), True), ("left", on("a"), False), ("right", on("b"), False)
    ),
    *group("or", abc("a or b"), ("left", on("a"), True), ("right", on("b"), True), ("none", on(""), False)),
    *group("not", abc("not a"), ("absent", on("b"), True), ("present", on("a"), False)),
    *group("not-not", abc("not not a"), ("present", on("a"), True), ("absent", on(""), False)),
    *group("and-chain", abc("a and b and c"), ("all", on("abc"), True), ("two", on("ab"), False)),
    *group("parentheses", abc("(a or b) and c"), ("b-and-c", on("bc"), True), ("a-only", on("a"), False)),
    *group(
        "and-binds-tighter-than-or",
        abc("a or b and c"),
        ("a-alone", on("a"), True),
        ("b-alone", on("b"), False),
        ("b-and-c", on("bc"), True),
        ("c-alone", on("c"), False),
    ),
    *group(
        "not-binds-tighter-than-and",
        abc("not a and b"),
        ("b-alone", on("b"), True),
        ("none", on(""), False),
        ("a-and-b", on("ab"), False),
    ),
    *group("not-parenthesised", abc("not (a and b)"), ("a-alone", on("a"), True), ("both", on("ab"), False)),
    *group(
        "and-not-or",
        abc("a and not b or c"),
        ("c-alone", on("c"), True),
        ("a-alone", on("a"), True),
        ("a-and-b", on("ab"), False),
    ),
    *group(
        "one-of-pattern",
        sels("1 of sel*"),
        ("first", on("a"), True),
        ("second", on("b"), True),
        ("filter-only", on("c"), False),
    ),
    *group("all-of-pattern", sels("all of sel*"), ("both", on("ab"), True), ("one", on("a"), False)),
    *group("any-of-pattern", sels("any of sel*"), ("second", on("b"), True), ("none", on("c"), False)),
    *group(
        "one-of-them",
        sels("1 of them"),
        ("filter", on("c"), True),
        ("underscore-only", on("d"), False),
        ("none", on(""), False),
    ),
    *group(
        "all-of-them",
        sels("all of them"),
        ("all-but-underscore", on("abc"), True),
        ("one-missing", on("ab" + "d"), False),
    ),
    *group(
        "pattern-skips-underscore",
        """\
        main_sel:
            A: 'x'
        _helper_sel:
            D: 'x'
        condition: 1 of *sel
        """,
        ("visible", on("a"), True),
        ("underscore-would-match-pattern", on("d"), False),
    ),
    *group(
        "underscore-by-name",
        sels("sel1 and not _helper"),
        ("helper-false", on("a"), True),
        ("helper-true", on("ad"), False),
    ),
    *group(
        "of-binds-tighter-than-not",
        sels("all of sel* and not 1 of filter*"),
        ("no-filter", on("ab"), True),
        ("filter", on("abc"), False),
    ),
    *group(
        "condition-list-is-or",
        """\
        a:
            A: 'x'
        b:
            B: 'x'
        c:
            C: 'x'
        condition:
            - a and b
            - c
        """,
        ("first", on("ab"), True),
        ("second", on("c"), True),
        ("neither", on("a"), False),
    ),
]

# -- how values read (runtime/values.py and runtime/fields.py, which both engines share) -------------
# One group per path of those modules, so that a change there meets expectations written apart from it.

VALUES = [
    *group(
        "value-boolean-false-reads-false",
        sel("Flag: 'false'"),
        ("boolean", {"Flag": False}, True),
        ("text-any-case", {"Flag": "FALSE"}, True),
        ("zero-is-not-false", {"Flag": 0}, False),
        ("null-is-not-false", {"Flag": None}, False),
    ),
    *group(
        "value-float-reads-as-its-text",
        sel("Score: '2.0'"),
        ("float", {"Score": 2.0}, True),
        ("text", {"Score": "2.0"}, True),
        ("int-reads-2", {"Score": 2}, False),
    ),
    *group(
        "value-list-elements-only-scalars",
        sel("User: 'bob'"),
        ("after-a-null", {"User": [None, "bob"]}, True),
        ("nested-list-offers-no-text", {"User": [["bob"]]}, False),
        ("map-in-list-offers-no-text", {"User": [{"name": "bob"}]}, False),
        ("map-offers-no-text", {"User": {"name": "bob"}}, False),
    ),
    *group(
        "value-list-of-numbers-and-booleans",
        sel("Flags: 'true'"),
        ("second-element", {"Flags": [False, True]}, True),
        ("no-element", {"Flags": [False, 1]}, False),
    ),
    *group(
        "keywords-numbers-and-booleans-anywhere",
        """\
        keywords:
            - '4688'
            - 'true'
        condition: keywords
        """,
        ("number-in-list-in-map", {"a": {"b": [1, 4688]}}, True),
        ("boolean-deep", {"a": [{"b": True}]}, True),
        ("false-is-not-true", {"a": False}, False),
        ("keys-not-searched", {"4688": "x", "true": None}, False),
    ),
    *group(
        "compare-reads-numeric-text",
        sel("Count|gt: 10"),
        ("spaces-around", {"Count": " 11 "}, True),
        ("exponent", {"Count": "1e2"}, True),
        ("decimal-text", {"Count": "10.5"}, True),
        ("hex-is-not-a-number", {"Count": "0x20"}, False),
        ("empty-text", {"Count": ""}, False),
        ("null", {"Count": None}, False),
    ),
    *group(
        "compare-list-shapes",
        sel("Count|gt: 10"),
        ("any-element", {"Count": [5, 20]}, True),
        ("numeric-text-element", {"Count": ["5", "20"]}, True),
        ("nested-list", {"Count": [[20]]}, False),
        ("map", {"Count": {"n": 20}}, False),
        ("booleans", {"Count": [True, False]}, False),
    ),
    *group(
        "time-value-shapes",
        sel("ts|hour: 10"),
        ("no-zone-is-utc", {"ts": "2024-03-05T10:15:30"}, True),
        ("space-separator", {"ts": "2024-03-05 10:15:30Z"}, True),
        ("epoch-float-seconds", {"ts": 1709633730.5}, True),
        ("boolean-is-not-a-time", {"ts": True}, False),
        ("map-is-not-a-time", {"ts": {"t": STAMP}}, False),
    ),
    *group(
        "cidr-value-shapes",
        sel("Ip|cidr: '10.0.0.0/8'"),
        ("spaces-around", {"Ip": " 10.1.2.3 "}, True),
        ("list-element", {"Ip": ["not-an-ip", "10.1.2.3"]}, True),
        ("integer-is-not-an-address", {"Ip": 167772161}, False),
        ("v4-mapped-v6-is-v6", {"Ip": "::ffff:10.1.2.3"}, False),
        ("address-with-prefix-is-not-an-address", {"Ip": "10.1.2.3/32"}, False),
    ),
    *group(
        "cidr-host-bits-ignored",
        sel("Ip|cidr: '10.1.2.3/8'"),
        ("same-network", {"Ip": "10.200.0.1"}, True),
        ("other-network", {"Ip": "11.1.2.3"}, False),
    ),
    *group(
        "dotted-path-exact-key-wins",
        sel("a.b: 'x'"),
        ("flat-key", {"a.b": "x"}, True),
        ("nested", {"a": {"b": "x"}}, True),
        ("flat-key-hides-nested", {"a.b": "y", "a": {"b": "x"}}, False),
        ("list-of-values-not-maps", {"a": ["x"]}, False),
        ("value-list-at-the-end", {"a": {"b": ["y", "x"]}}, True),
    ),
]

CASES = [
    *STRUCTURE,
    *NUMBERS,
    *NULLS,
    *ESCAPING,
    *STRINGS,
    *FOLDING,
    *WINDASH,
    *BASE64,
    *REGEX,
    *CIDR,
    *COMPARE,
    *FIELD_TESTS,
    *TIME,
    *EVENT_LISTS,
    *KEYWORDS,
    *CONDITIONS,
    *VALUES,
]

# -- illegal rules: (id, detection, diagnostic code) -------------------------------------------------

ILLEGAL = [
    ("unknown-modifier", sel("Image|contians: 'x'"), "E101"),
    ("utf16le-needs-base64", sel("Image|utf16le: 'x'"), "E107"),
    ("re-not-first", sel("Image|contains|re: 'x'"), "E102"),
    ("cidr-not-first", sel("Ip|all|cidr: ['10.0.0.0/8']"), "E102"),
    ("contains-after-re", sel("Image|re|contains: 'x'"), "E103"),
    ("cased-after-re", sel("Image|re|cased: 'x'"), "E103"),
    ("contains-after-cidr", sel("Ip|cidr|contains: '10.0.0.0/8'"), "E103"),
    ("regex-flag-without-re", sel("Image|contains|i: 'x'"), "E104"),
    ("exists-with-other-modifier", sel("Image|exists|all: true"), "E105"),
    ("two-positions", sel("Image|contains|startswith: 'x'"), "E106"),
    ("wide-without-base64", sel("Image|wide: 'x'"), "E107"),
    ("two-comparisons", sel("Count|gt|lt: 5"), "E108"),
    ("fieldref-with-windash", sel("A|fieldref|windash: B"), "E109"),
    ("keyword-cidr", "keywords:\n    '|cidr': ['10.0.0.0/8']\ncondition: keywords\n", "E110"),
    ("exists-non-boolean", sel("Image|exists: 'yes'"), "E111"),
    ("keyword-all-empty", "keywords:\n    '|all': []\ncondition: keywords\n", "E112"),
    ("keyword-null", "keywords: [null]\ncondition: keywords\n", "E113"),
    ("fieldref-number", sel("A|fieldref: 5"), "E115"),
    ("gt-quoted-number", sel("Count|gt: '5'"), "E116"),
    ("base64-wildcard", sel("Data|base64: 'a*'"), "E117"),
    ("base64offset-wildcard", sel("Data|base64offset|contains: 'a?c'"), "E117"),
    ("windash-too-many-dashes", sel("CommandLine|windash: '-a -b -c -d -e -f -g'"), "E118"),
    ("bad-regex", sel("Image|re: '('"), "E119"),
    ("regex-backreference", sel(r"Image|re: '(a)\1'"), "E130"),
    ("regex-lookahead", sel("Image|re: 'a(?=b)'"), "E130"),
    ("regex-lookbehind", sel("Image|re: '(?<!x)a'"), "E130"),
    ("regex-possessive", sel("Image|re: 'a++b'"), "E130"),
    ("regex-atomic", sel("Image|re: '(?>a+)b'"), "E130"),
    ("regex-python-end", sel(r"Image|re: 'a\Z'"), "E130"),
    ("regex-repeat-over-1000", sel("Image|re: 'a{1001}'"), "E130"),
    ("bad-cidr", sel("Ip|cidr: '10.0.0.0/33'"), "E120"),
    ("time-part-text", sel("ts|hour: 'ten'"), "E121"),
    ("time-part-fraction", sel("ts|hour: 1.5"), "E121"),
    ("uppercase-operator", abc("a AND b"), "E204"),
    ("pipe-aggregation", abc("a | count() by A > 5"), "E203"),
    ("unknown-identifier", abc("a and d"), "E040"),
    ("underscore-pattern-selects-nothing", sels("1 of _help*"), "E041"),
    ("wildcard-identifier-without-of", sels("sel*"), "E201"),
]


# -- machinery -----------------------------------------------------------------------------------------


def rule_text(title: str, detection: str) -> str:
    return (
        f"title: {json.dumps(title)}\nlogsource:\n    product: conformance\ndetection:\n"
        + textwrap.indent(detection, "    ")
    )


@cache
def load_rule(title: str, detection: str) -> ast.Rule:
    result = load_text(rule_text(title, detection), f"<{title}>")
    assert not result.errors, [str(d) for d in result.errors]
    (rule,) = result.rules
    return rule


@cache
def compiled_match(title: str, detection: str, placeholders: tuple, optimized: bool):
    """The generated `match` for the rule: as lowered, or through every optimization pass (as `sigil compile`)."""
    rule = load_rule(title, detection)
    expr = rule_expr(rule, {k: list(v) for k, v in placeholders} or None)
    module = generate_module("json", [(rule.key, "case", optimize(expr) if optimized else expr, {})], "conformance")
    namespace: dict = {}
    exec(compile(module.source, f"<conformance {title}>", "exec"), namespace)
    return namespace["match"]


def rule_of(case: Case) -> ast.Rule:
    return load_rule(case.id.split("/")[0], case.detection)


def interpret(case: Case) -> bool:
    return evaluate(rule_of(case), case.event, placeholders=case.placeholder_map)


def modifiers_of(rule: ast.Rule) -> set[str]:
    return {
        m for s in rule.detection.selections for alt in s.alternatives for item in alt for m in item.modifiers
    }


def condition_forms(rule: ast.Rule) -> set[str]:
    """Tags for the condition constructs a rule uses (and, or, not, x of pattern/them, condition lists)."""
    forms = {"condition-list"} if len(rule.detection.conditions) > 1 else set()

    def walk(cond: ast.Condition) -> None:
        match cond:
            case ast.Of(quantifier, pattern):
                forms.add(f"{quantifier} of {'them' if pattern is None else 'pattern'}")
            case ast.NotCond(item):
                forms.add("not")
                walk(item)
            case ast.AndCond(items) | ast.OrCond(items):
                forms.add("and" if isinstance(cond, ast.AndCond) else "or")
                for item in items:
                    walk(item)

    for cond in rule.detection.conditions:
        walk(cond)
    return forms


# -- tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_interpreter(case: Case) -> None:
    """The reference interpreter gives the outcome the Sigma semantics prescribe for this row."""
    assert interpret(case) is case.expect


@pytest.mark.parametrize("optimized", [False, True], ids=["lowered", "optimized"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_engine_agrees(case: Case, optimized: bool) -> None:
    """The generated matcher module, with and without the optimization passes, gives the row's outcome."""
    match = compiled_match(case.id.split("/")[0], case.detection, case.placeholders, optimized)
    assert (match(case.event) == [rule_of(case).key]) is case.expect


@pytest.mark.parametrize(
    ("detection", "code"), [(d, c) for _, d, c in ILLEGAL], ids=[i for i, _, _ in ILLEGAL]
)
def test_illegal_rule_is_rejected(detection: str, code: str) -> None:
    """An illegal modifier chain, value or condition yields no rule and an error with the expected code."""
    result = load_text(rule_text("illegal", detection), "<illegal>")
    assert not result.rules
    assert code in {d.code for d in result.errors}


def test_case_ids_are_unique() -> None:
    """Every row has its own id, so a failure names exactly one row."""
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("modifier", sorted(KNOWN))
def test_every_modifier_has_both_outcomes(modifier: str) -> None:
    """Each modifier the language knows appears in rows that must match and in rows that must not."""
    outcomes = {c.expect for c in CASES if modifier in modifiers_of(rule_of(c))}
    assert outcomes == {True, False}


@pytest.mark.parametrize(
    "form",
    ["and", "or", "not", "1 of pattern", "all of pattern", "1 of them", "all of them", "condition-list"],
)
def test_every_condition_form_has_both_outcomes(form: str) -> None:
    """Each condition construct appears in rows that must match and in rows that must not."""
    outcomes = {c.expect for c in CASES if form in condition_forms(rule_of(c))}
    assert outcomes == {True, False}
