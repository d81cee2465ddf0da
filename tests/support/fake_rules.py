"""A handwritten ``sigil_rules`` package: a stand-in for ``sigil compile`` output, for runtime unit tests only.

It follows the contract of docs/architecture.md by hand so that runtime/ can be tested before (and
independently of) the compiler. End-to-end tests of the whole product must use really compiled rules.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

RULE_ID = "77caf516-34e5-4df9-b4db-20744fea0a60"
RULE_TITLE = "AWS Successful Console Login Without MFA"
RULE_LEVEL = "medium"
LOG_TYPE = "cloudtrail"

SCHEMAS = {
    "log_types": {
        LOG_TYPE: {
            "parser": {"type": "json", "records": "Records[*]"},
            "required": ["eventName", "eventSource", "eventVersion"],
            "priority": 10,
        },
    },
}

INIT_PY = '''\
"""Compiled Sigil rules (handwritten stand-in for tests)."""

LOG_TYPES = {"cloudtrail": "cloudtrail"}
CONTRACT = 1
'''

CLOUDTRAIL_PY = f'''\
"""Matchers for log type cloudtrail (handwritten stand-in for tests)."""

from runtime.helpers import get_field

LOG_TYPE = "cloudtrail"

RULES = {{
    "{RULE_ID}": {{
        "title": "{RULE_TITLE}",
        "level": "{RULE_LEVEL}",
        "description": "Detects successful AWS console logins that were performed without MFA.",
        "path": "rules/aws_cloudtrail_console_login_success_without_mfa.yml",
        "line": 1,
        "outputs": ["sns:alerts"],
        "tags": ["attack.initial-access", "attack.t1078.004"],
    }},
}}


# {RULE_ID} rules/aws_cloudtrail_console_login_success_without_mfa.yml:1
def _rule_0(record):
    return get_field(record, "eventName") == "ConsoleLogin" and get_field(record, "additionalEventData.MFAUsed") == "No"


def match(record, errors=None):
    """Return the ids of the rules matching record, in rule order (no rule here raises: errors stays empty)."""
    matched = []
    if _rule_0(record):
        matched.append("{RULE_ID}")
    return matched
'''


def write_handwritten_rules_package(build_dir: Path) -> Path:
    """Write ``build_dir/sigil_rules/`` (modules, schemas.json, manifest.json) and return ``build_dir``."""
    package = Path(build_dir) / "sigil_rules"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(INIT_PY)
    (package / "cloudtrail.py").write_text(textwrap.dedent(CLOUDTRAIL_PY))
    (package / "schemas.json").write_text(json.dumps(SCHEMAS, indent=2, sort_keys=True) + "\n")
    manifest = {
        "log_types": {LOG_TYPE: "cloudtrail"},
        "rules": {RULE_ID: {"log_type": LOG_TYPE}},
        "sources": {},
    }
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return Path(build_dir)
