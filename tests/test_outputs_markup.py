"""Hostile alert values never become markup in Slack, Jira, Teams or PagerDuty messages.

Alert titles, descriptions, context and records carry log values, which an attacker can write: ``}}``,
``{code}``, backticks, ``<https://evil|x>``, ``[x|https://evil]``, ``!https://evil/i.png!``, line breaks.
Each property renders hostile alerts and checks that every markup construct in the message came from the
output's own template, and that the values still read back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.outputs import jira, pagerduty, slack, teams
from runtime.outputs.text import cut, key_fields

PROPERTY = settings(max_examples=150, deadline=None, database=None)
FRAGMENTS = [
    "}}", "{{", "{code}", "{CODE}", "{code:java}", "{noformat}", "{quote}", "{color:red}", "```", "`", "*", "_",
    "~", "<https://evil.example|click>", "<!channel>", "<@U0123>", "@here", "[x|https://evil.example]",
    "!https://evil.example/i.png!", "[~admin]", "\n", "\r\n", "\u2028", "h1. ", "bq. ", "# ", "* ", "----",
    "|", "||", "\\", "\\\\", "&", "&amp;", "&#123;", "[a](https://evil.example)", "![i](https://evil.example/i.png)",
    "<a href='https://evil.example'>x</a>", "**", ":D", "(y)", "(!)", "https://evil.example/x", "-", "+", "^",
    "?", "??", "%", "{", "}", "[", "]", "(", ")", "!", ":", ";)",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=8).map("".join)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    """An alert every text of which may be hostile (the alert id is a hash, as build_alert makes it)."""
    context = draw(st.dictionaries(hostile, hostile, min_size=1, max_size=5))
    alert = {
        "alert_id": "9b74100eeff3559beb3561de4f4b84be107f1bdadc5804159d892ecde1a3c498",
        "rule_id": draw(hostile),
        "title": draw(hostile),
        "level": draw(st.one_of(st.sampled_from(["high", "low"]), hostile)),
        "log_type": draw(hostile),
        "source": draw(hostile),
        "context": context,
        "record": {**context, "nested": {"k": draw(hostile)}},
    }
    if description := draw(hostile):
        alert["description"] = description
    return alert


def benign(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The same alert with every value replaced by plain words: what the template alone produces."""
    context = {f"n{i}": "v" for i in range(len(alert["context"]))}
    return {
        **alert,
        **dict.fromkeys(("rule_id", "title", "level", "log_type", "source"), "v"),
        **({"description": "v"} if "description" in alert else {}),
        "context": context,
        "record": context,
    }


def objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside ``node``."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from objects(item)


# --- Slack ---------------------------------------------------------------------------------------------

SLACK_LABELS = {"*Level*", "*Rule*", "*Log type*", "*Source*", "*Alert id*"}
TRUNCATED = re.compile(r"_Record truncated: [\d,]+ of [\d,]+ characters shown\._")


class TestSlack:
    @PROPERTY
    @given(alerts())
    def test_values_never_in_mrkdwn(self, alert: dict[str, Any]) -> None:
        """mrkdwn holds only the template's labels; values are plain_text or styled rich text runs."""
        payload = slack.message(alert)
        assert payload["mrkdwn"] is False
        assert not re.search(r"[<>]|&(?!amp;|lt;|gt;)", payload["text"].removesuffix("…"))
        assert {block["type"] for block in payload["blocks"]} <= {"header", "section", "rich_text", "context"}
        for node in objects(payload["blocks"]):
            kind = node.get("type")
            if kind == "mrkdwn":
                assert node["text"] in SLACK_LABELS or TRUNCATED.fullmatch(node["text"])
            elif kind == "plain_text":
                assert node["emoji"] is False and node["text"]
            elif kind == "rich_text":
                assert {e["type"] for e in node["elements"]} <= {
                    "rich_text_section",
                    "rich_text_preformatted",
                }
                for run in (r for e in node["elements"] for r in e["elements"]):
                    assert run["type"] == "text" and set(run.get("style", {})) <= {"bold", "code"}
                    assert run["text"]  # Slack refuses empty text elements

    @PROPERTY
    @given(alerts())
    def test_values_read_back_unchanged(self, alert: dict[str, Any]) -> None:
        """The key fields are literal runs and the record's code blocks join back to its JSON."""
        layout = slack.blocks(alert)
        texts = [node["text"] for node in objects(layout) if node.get("type") == "text"]
        for name, value in key_fields(alert)[:3]:
            assert {name, value} - {""} <= set(texts)
        preformatted = [
            run["text"]
            for block in layout
            if block["type"] == "rich_text"
            for element in block["elements"]
            if element["type"] == "rich_text_preformatted"
            for run in element["elements"]
        ]
        assert json.loads("".join(preformatted)) == alert["record"]


# --- Jira ----------------------------------------------------------------------------------------------

JIRA_ESCAPE = re.compile(r"\\[-#*_+?^~|%{}\[\]()!@]|&#92;|&#58;|&amp;")
JIRA_MARKUP = re.compile(r"[-#*_+?^~|%{}\[\]()!@\\:&\n]")


def jira_parts(text: str) -> tuple[str, str]:
    """Split a description into the text before the record block and the block's content."""
    head, opener, rest = text.partition("\nh4. Record\n{code:json}\n")
    assert opener and rest.endswith("\n{code}")
    return head, rest.removesuffix("\n{code}")


def skeleton(text: str) -> list[str]:
    """The markup characters and line breaks left once escaped characters are taken out."""
    return JIRA_MARKUP.findall(JIRA_ESCAPE.sub("", text))


def unescape(text: str) -> str:
    """Read escaped Jira text back as the renderer shows it."""
    entities = {"&#92;": "\\", "&#58;": ":", "&amp;": "&"}
    return JIRA_ESCAPE.sub(lambda m: entities.get(m.group(0), m.group(0)[1:]), text)


class TestJira:
    @PROPERTY
    @given(alerts())
    def test_markup_only_from_the_template(self, alert: dict[str, Any]) -> None:
        """Outside the record block the description has exactly the template's markup; inside, no macro."""
        head, code = jira_parts(jira.description(alert))
        template_head, _ = jira_parts(jira.description(benign(alert)))
        assert skeleton(head) == skeleton(template_head)
        assert not re.search(r"\{[a-z]", code, re.IGNORECASE)
        assert json.loads(code) == alert["record"]

    @PROPERTY
    @given(hostile)
    def test_escape_reads_back(self, value: str) -> None:
        """An escaped value renders as the value itself, on one line."""
        escaped = jira.escape(value)
        assert "\n" not in escaped and "\r" not in escaped
        assert unescape(escaped) == " ".join(value.splitlines())

    def test_closing_the_blocks_does_not_work(self) -> None:
        """The issue's two examples: a value closing {{…}} and one closing {code}, both with a link and image."""
        value = "x}} [click|https://evil.example] !https://evil.example/i.png! {{y"
        alert = {
            "alert_id": "a1",
            "rule_id": "r",
            "title": "t",
            "context": {"user": value},
            "record": {"user": value, "note": "{code}\n[click|https://evil.example]\n{code:json}"},
        }
        text = jira.description(alert)
        assert (
            "* user: {{x\\}\\} \\[click\\|https&#58;//evil.example\\] \\!https&#58;//evil.example/i.png\\! \\{\\{y}}"
            in text
        )
        assert (
            text.count("{code") == 2
            and '"\\u007bcode}\\n[click|https://evil.example]\\n\\u007bcode:json}"' in text
        )

    def test_description_within_jira_limit_whatever_the_values(self) -> None:
        """Values made only of characters escaping lengthens most still give a description Jira accepts."""
        worst = ":" * 50_000
        context = {f"{i}{worst}": worst for i in range(10)}
        alert = {
            **dict.fromkeys(
                ("alert_id", "rule_id", "title", "level", "log_type", "source", "description"), worst
            ),
            "context": context,
            "record": context,
        }
        text = jira.description(alert)
        assert len(text) <= jira.DESCRIPTION_LIMIT
        head, code = jira_parts(text)
        assert len(code) > 1000 and skeleton(head) == skeleton(jira_parts(jira.description(benign(alert)))[0])


# --- Teams ---------------------------------------------------------------------------------------------

TEAMS_LABELS = ["Level: ", "Rule: ", "Log type: ", "Alert id: "]


class TestTeams:
    @PROPERTY
    @given(alerts())
    def test_adaptive_card_values_are_text_runs(self, alert: dict[str, Any]) -> None:
        """Every block is a RichTextBlock of TextRuns (never markdown); no actions or images."""
        card = teams.adaptive_card(alert)["attachments"][0]["content"]
        assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
        for block in card["body"]:
            assert set(block) == {"type", "inlines"}
            for run in block["inlines"]:
                assert run["type"] == "TextRun" and set(run) <= {"type", "text", "size", "weight", "fontType"}
        labels = [r["text"] for b in card["body"] for r in b["inlines"] if r.get("weight") == "Bolder"][1:]
        names = [name for name, _ in key_fields(alert)]
        assert labels == [*TEAMS_LABELS, *(f"{name}: " for name in names)]
        assert not any(key in node for node in objects(card) for key in ("selectAction", "actions", "url"))

    @PROPERTY
    @given(alerts())
    def test_message_card_escaped(self, alert: dict[str, Any]) -> None:
        """Markdown is off in the section, values there are HTML-escaped, and the title is escaped for both."""
        card = teams.message_card(alert)
        [section] = card["sections"]
        assert section["markdown"] is False
        texts = [section["activityTitle"], *(v for f in section["facts"] for v in f.values())]
        assert not any(re.search(r"[<>]", text) for text in texts)
        title = re.sub(r"\\[\\`*_{}\[\]()#+\-.!|~>]|&(amp|lt|gt|quot|#x27);", "", card["title"])
        assert not re.search(r"[\\`*_{}\[\]()#+\-.!|~<>\n]", title)
        assert "potentialAction" not in card


# --- PagerDuty -----------------------------------------------------------------------------------------


class TestPagerDuty:
    @PROPERTY
    @given(alerts())
    def test_no_links_or_images_from_values(self, alert: dict[str, Any]) -> None:
        """PagerDuty renders no markup in summary or details; links and images exist only as fields, never set."""
        event = pagerduty.event(alert, "k" * 32)
        assert not {"links", "images"} & (set(event) | set(event["payload"]))
        assert event["payload"]["summary"] == cut(alert["title"], pagerduty.SUMMARY_LIMIT)
