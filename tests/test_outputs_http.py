"""HTTP outputs against local servers standing in for Slack, PagerDuty, Teams, Jira and webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support.delivery import (
    RECORD,
    big_record,
    create_queue,
    dispatcher,
    drain,
    put_secret,
    sample_alert,
    unique,
)
from support.http_servers import Recorded, Reply, ScriptedServer

from runtime.alerts import canonical_json
from runtime.outputs import pagerduty, slack
from runtime.outputs.dispatch import DeliveryReport
from runtime.outputs.webhook import SIGNATURE_HEADER, verify

DOCS_OUTPUTS = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A local HTTP server answering 200 ok unless scripted otherwise."""
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def prefix(aws_env: str) -> str:
    """A secrets prefix of this test's own in the moto Secrets Manager."""
    return "/" + unique("sigil-test")


def deliver(
    endpoint: str,
    prefix: str,
    descriptor: str,
    secret: Any,
    alerts: list[dict[str, Any]],
    settings: dict[str, Any] | None = None,
    dlq_url: str | None = None,
) -> DeliveryReport:
    """Store the output's secret under the prefix and deliver ``alerts`` to ``descriptor``."""
    service, _, name = descriptor.partition(":")
    put_secret(
        endpoint,
        "secretsmanager",
        f"{prefix}/{service}/{name}",
        secret if isinstance(secret, str) else json.dumps(secret),
    )
    dispatcher_, _ = dispatcher(
        endpoint,
        {descriptor: settings or {}},
        secrets_prefix=prefix,
        default_outputs=(descriptor,),
        dlq_url=dlq_url,
    )
    return dispatcher_.deliver(alerts)


def preformatted(blocks: list[dict[str, Any]]) -> list[str]:
    """The texts of the preformatted rich text blocks of a Slack message (the record's chunks)."""
    return [
        run["text"]
        for block in blocks
        if block["type"] == "rich_text"
        for element in block["elements"]
        if element["type"] == "rich_text_preformatted"
        for run in element["elements"]
    ]


def code_text(blocks: list[dict[str, Any]]) -> str:
    """Concatenate the record's code blocks of a Slack message."""
    return "".join(preformatted(blocks))


def runs(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The text elements of a rich text block."""
    return [run for element in block["elements"] for run in element["elements"]]


class TestSlack:
    def test_readable_message(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """Slack gets a header with the title, labelled fields, key fields and the whole record."""
        alert = sample_alert()
        report = deliver(aws_env, prefix, "slack:secops", f"{server.url}/services/T0/B0/XYZ", [alert])
        assert report.delivered == (alert["alert_id"],)
        [request] = server.requests
        assert (request.method, request.path) == ("POST", "/services/T0/B0/XYZ")
        assert request.header("Content-Type") == "application/json"
        payload = request.json()
        assert (payload["text"], payload["mrkdwn"]) == ("[HIGH] Console login by alice (rule rule-1)", False)
        header, summary, key_fields, *_ = payload["blocks"]
        assert header == {
            "type": "header",
            "text": {"type": "plain_text", "text": "Console login by alice", "emoji": False},
        }
        fields = [f["text"] for f in summary["fields"]]
        assert fields[:4] == ["*Level*", "high", "*Rule*", "rule-1"]
        assert fields[-2:] == ["*Alert id*", alert["alert_id"]]
        assert [f["type"] for f in summary["fields"]] == ["mrkdwn", "plain_text"] * 5
        assert {"type": "text", "text": "eventName", "style": {"bold": True}} in runs(key_fields)
        assert {"type": "text", "text": "ConsoleLogin", "style": {"code": True}} in runs(key_fields)
        assert json.loads(code_text(payload["blocks"])) == RECORD

    def test_cut_to_slack_limits(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """A huge alert is cut to ≤ 50 blocks, sections ≤ 3000 chars, header ≤ 150, text ≤ 40,000."""
        record = {**big_record(1_000_000), "html": "<b>&amp;</b>" * 5000}
        alert = sample_alert(record, title="<&> " * 20_000)
        deliver(aws_env, prefix, "slack:secops", {"url": f"{server.url}/hook"}, [alert])
        payload = server.requests[0].json()
        blocks = payload["blocks"]
        assert len(blocks) == slack.MAX_BLOCKS
        assert len(payload["text"]) <= 40_000
        assert len(blocks[0]["text"]["text"]) <= 150
        assert max(map(len, preformatted(blocks))) <= 3000
        assert all(len(f["text"]) <= 2000 for f in blocks[1]["fields"])
        assert "truncated" in blocks[-1]["elements"][0]["text"]
        shown = code_text(blocks)
        assert len(shown) > 100_000
        assert json.dumps(record, indent=2, sort_keys=True).startswith(shown)

    def test_control_characters_never_parsed(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """A value with <!channel> is a literal rich text element; the notification text escapes it."""
        alert = sample_alert({**RECORD, "eventName": "<!channel> & co"}, title="{eventName}")
        deliver(aws_env, prefix, "slack:secops", {"url": f"{server.url}/hook"}, [alert])
        payload = server.requests[0].json()
        assert {"type": "text", "text": "<!channel> & co", "style": {"code": True}} in runs(
            payload["blocks"][2]
        )
        assert payload["text"] == "[HIGH] &lt;!channel&gt; &amp; co (rule rule-1)"


class TestPagerDuty:
    def test_trigger_event(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """An Events v2 trigger with the routing key from the secret and the alert id as dedup_key."""
        server.default = Reply.json(202, {"status": "success", "message": "Event processed"})
        alert = sample_alert(level="critical")
        secret = {"routing_key": "R0UT1NGKEY", "url": f"{server.url}/v2/enqueue"}
        assert deliver(aws_env, prefix, "pagerduty:oncall", secret, [alert]).delivered == (alert["alert_id"],)
        [request] = server.requests
        assert request.path == "/v2/enqueue"
        event = request.json()
        assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (
            "R0UT1NGKEY",
            "trigger",
            alert["alert_id"],
        )
        payload = event["payload"]
        assert (payload["summary"], payload["severity"], payload["source"]) == (
            alert["title"],
            "critical",
            alert["source"],
        )
        assert (payload["component"], payload["class"]) == ("cloudtrail", "rule-1")
        assert payload["custom_details"]["record"] == RECORD

    @pytest.mark.parametrize(
        ("level", "severity"),
        [
            ("critical", "critical"),
            ("high", "error"),
            ("medium", "warning"),
            ("low", "info"),
            ("informational", "info"),
            ("odd", "warning"),
        ],
    )
    def test_severity_mapping(self, level: str, severity: str) -> None:
        """Sigma levels map onto PagerDuty's four severities."""
        assert pagerduty.event(sample_alert(level=level), "k")["payload"]["severity"] == severity

    def test_oversized_record_previewed(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """An event that would pass 512 KB carries a preview of the record instead of the record."""
        alert = sample_alert(big_record(900_000))
        deliver(aws_env, prefix, "pagerduty:oncall", {"routing_key": "k", "url": f"{server.url}/e"}, [alert])
        [request] = server.requests
        assert len(request.body) < 512 * 1024
        details = request.json()["payload"]["custom_details"]
        assert details["record"] is None
        assert canonical_json(alert["record"]).startswith(details["record_preview"][:-1])


class TestTeams:
    def test_adaptive_card(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """By default Teams gets a message with an Adaptive Card: title, facts, record."""
        alert = sample_alert()
        deliver(aws_env, prefix, "teams:soc", {"url": f"{server.url}/webhookb2/x"}, [alert])
        message = server.requests[0].json()
        [attachment] = message["attachments"]
        assert (message["type"], attachment["contentType"]) == (
            "message",
            "application/vnd.microsoft.card.adaptive",
        )
        title, *facts, record = attachment["content"]["body"]
        assert {block["type"] for block in attachment["content"]["body"]} == {"RichTextBlock"}
        assert title["inlines"] == [
            {"type": "TextRun", "text": alert["title"], "size": "Large", "weight": "Bolder"}
        ]
        assert [run["text"] for run in facts[1]["inlines"]] == ["Rule: ", "rule-1"]
        assert json.loads(record["inlines"][0]["text"]) == RECORD

    def test_message_card(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """With card: messagecard Teams gets a legacy connector card coloured by level, the record HTML-escaped."""
        alert = sample_alert({**RECORD, "eventName": "<img src=x>"}, level="high")
        deliver(
            aws_env,
            prefix,
            "teams:soc",
            {"url": f"{server.url}/x"},
            [alert],
            settings={"card": "messagecard"},
        )
        card = server.requests[0].json()
        assert (card["@type"], card["summary"], card["themeColor"]) == (
            "MessageCard",
            alert["title"],
            "D13438",
        )
        assert card["title"] == "Console login by alice" and card["sections"][0]["markdown"] is False
        text = card["sections"][0]["text"]
        assert "<img" not in text
        assert json.loads(html.unescape(text.removeprefix("<pre>").removesuffix("</pre>"))) == alert["record"]
        assert {"name": "Level", "value": "high"} in card["sections"][0]["facts"]

    def test_size_bounded(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """A huge record is cut so the card stays under Teams' ~28 KB message limit."""
        deliver(aws_env, prefix, "teams:soc", {"url": f"{server.url}/x"}, [sample_alert(big_record(500_000))])
        assert len(server.requests[0].body) < 28 * 1024


class TestJira:
    SECRET: ClassVar[dict[str, str]] = {"username": "bot@example.com", "api_token": "t0k3n"}

    def test_issue_created(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """One issue per alert through REST v2, basic auth from the secret, labelled with the alert id."""
        server.default = Reply.json(201, {"id": "10001", "key": "SEC-1"})
        alert = sample_alert()
        settings = {"project": "SEC", "issue_type": "Bug", "labels": ["cloud"]}
        deliver(
            aws_env, prefix, "jira:secops", {**self.SECRET, "url": f"{server.url}/jira/"}, [alert], settings
        )
        [request] = server.requests
        assert (request.method, request.path) == ("POST", "/jira/rest/api/2/issue")
        scheme, token = request.header("Authorization").split()
        assert (scheme, base64.b64decode(token).decode()) == ("Basic", "bot@example.com:t0k3n")
        fields = request.json()["fields"]
        assert (fields["project"], fields["issuetype"], fields["summary"]) == (
            {"key": "SEC"},
            {"name": "Bug"},
            alert["title"],
        )
        assert fields["labels"] == ["sigil", "cloud", f"sigil-{alert['alert_id']}"]
        assert "*Rule:* rule\\-1" in fields["description"]  # the value's "-" escaped, the label's ":" not
        code = fields["description"].split("{code:json}\n")[1].split("\n{code}")[0]
        assert json.loads(code) == RECORD

    def test_summary_one_line_and_bounded(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """A long multi-line title becomes a one-line summary of at most 255 characters."""
        server.default = Reply.json(201, {"key": "SEC-2"})
        alert = sample_alert(title="line one\nline two " + "x" * 500)
        deliver(
            aws_env, prefix, "jira:secops", {**self.SECRET, "url": server.url}, [alert], {"project": "SEC"}
        )
        summary = server.requests[0].json()["fields"]["summary"]
        assert len(summary) == 255
        assert summary.startswith("line one line two x")

    @pytest.mark.parametrize(("found", "posts"), [(1, 1), (0, 2)])
    def test_ambiguous_failure_checks_before_recreating(
        self, aws_env: str, prefix: str, server: ScriptedServer, found: int, posts: int
    ) -> None:
        """After a 502 (the issue may exist), the retry searches by label and creates only if none is found."""

        def respond(request: Recorded) -> Reply:
            if request.method == "GET":
                return Reply.json(200, {"total": found, "issues": []})
            return Reply.json(201, {"key": "SEC-3"})

        server.responder = respond
        server.fail(502, 1)
        alert = sample_alert()
        report = deliver(
            aws_env, prefix, "jira:secops", {**self.SECRET, "url": server.url}, [alert], {"project": "SEC"}
        )
        assert report.delivered == (alert["alert_id"],)
        assert [r.method for r in server.requests].count("POST") == posts
        search = next(r for r in server.requests if r.method == "GET")
        assert search.query["jql"] == [f'labels = "sigil-{alert["alert_id"]}"']


class TestWebhook:
    SECRET_KEY = "hmac-key-from-secrets-manager"

    def test_signed_body(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """The body is the canonical alert and its HMAC-SHA256 signature header verifies with the secret key."""
        alert = sample_alert()
        deliver(
            aws_env, prefix, "webhook:soar", {"url": f"{server.url}/in", "hmac_key": self.SECRET_KEY}, [alert]
        )
        [request] = server.requests
        assert json.loads(request.body) == alert
        assert verify(self.SECRET_KEY, request.body, request.header(SIGNATURE_HEADER))
        assert not verify("another key", request.body, request.header(SIGNATURE_HEADER))
        assert request.header("X-Sigil-Alert-Id") == alert["alert_id"]

    def test_signature_follows_the_documented_contract(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """What a receiver written from docs/outputs.md checks: the header the docs name carries `sha256=` and
        the hex HMAC-SHA256 of the body under the key, computed here with hmac and hashlib, not the product's code."""
        row = next(line for line in DOCS_OUTPUTS.read_text(encoding="utf-8").splitlines() if line.startswith("| `webhook` |"))
        documented = re.search(r"`([A-Za-z0-9-]+): sha256=<hex HMAC-SHA256\(body\)>`", row)
        assert documented, row
        deliver(aws_env, prefix, "webhook:soar", {"url": f"{server.url}/in", "hmac_key": self.SECRET_KEY}, [sample_alert()])
        [request] = server.requests
        expected = "sha256=" + hmac.new(self.SECRET_KEY.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.header(documented.group(1)) == expected

    def test_ocsf_body(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """With format ocsf the signed body is the alert's Detection Finding."""
        alert = sample_alert()
        deliver(
            aws_env,
            prefix,
            "webhook:lake",
            {"url": f"{server.url}/in", "hmac_key": "k"},
            [alert],
            {"format": "ocsf"},
        )
        [request] = server.requests
        assert request.json()["finding_info"]["uid"] == alert["alert_id"]
        assert verify("k", request.body, request.header(SIGNATURE_HEADER))

    def test_plain_http_off_loopback_refused(self, aws_env: str, prefix: str) -> None:
        """A non-HTTPS URL to another host is refused before any connection and dead-lettered."""
        dlq = create_queue(aws_env)
        alert = sample_alert()
        secret = {"url": "http://hooks.example.invalid/in", "hmac_key": "k"}
        report = deliver(aws_env, prefix, "webhook:soar", secret, [alert], dlq_url=dlq)
        assert report.dead_lettered == (alert["alert_id"],)
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert "refusing http URL" in letter["error"]
        assert letter["attempts"] == 1

    def test_redirect_not_followed(self, aws_env: str, prefix: str, server: ScriptedServer) -> None:
        """A redirect is not followed (the URL is a secret): the target never sees the alert."""
        with ScriptedServer() as elsewhere:
            server.default = Reply(307, b"", {"Location": f"{elsewhere.url}/steal"})
            dlq = create_queue(aws_env)
            alert = sample_alert()
            secret = {"url": f"{server.url}/in/s3cr3t-path", "hmac_key": "k"}
            assert deliver(aws_env, prefix, "webhook:soar", secret, [alert], dlq_url=dlq).dead_lettered
            assert elsewhere.requests == []
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert "HTTP 307" in letter["error"]
        assert "s3cr3t-path" not in letter["error"]
