"""Parse Windows-style XML events, one per line: Sysmon for Linux in syslog, Windows events forwarded as XML.

Each non-blank line holds one `<Event>...</Event>` document, after whatever the shipper put before it (a
syslog header such as `Oct 20 13:44:27 web-01 sysmon: `, which is not read: the event names its own
`Computer` and time). The event is read into the evtx_dump shape (`Event.System.*` with `#attributes`,
`Event.EventData.*`, `Event.UserData.*`) and flattened by `runtime.parsers.evtx`, so an XML event has the
same field names as the same event in JSON: EventID, Channel, Provider_Name, TimeCreated_SystemTime...
and every `<Data Name="...">` of the event data. `<Data>` without a name is collected under `Data`.

No DOCTYPE is accepted (events never carry one): entity declarations are refused before parsing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from runtime.parsers import evtx
from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode, lines

START = "<Event"
DECLARATIONS = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return one record per non-blank line of ``raw``."""
    return [_line(line, number) for number, line in lines(decode(raw))]


def _line(line: str, number: int) -> dict[str, Any]:
    start = line.find(START)
    if start < 0:
        raise ParseError(f"line {number} holds no <Event> XML")
    text = line[start:]
    if DECLARATIONS.search(text):
        raise ParseError(f"line {number}: an XML event with a DOCTYPE or ENTITY declaration is refused")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise ParseError(f"line {number} is not an XML event: {exc}") from None
    if _name(root) != "Event":
        raise ParseError(f"line {number}: the XML root is <{_name(root)}>, not <Event>")
    return evtx.flatten({"Event": event_dict(root)})


def event_dict(root: ElementTree.Element) -> dict[str, Any]:
    """The `<Event>` element in the evtx_dump JSON shape."""
    event: dict[str, Any] = {}
    for part in root:
        name = _name(part)
        if name == "System":
            event["System"] = {_name(child): _system_value(child) for child in part}
        elif name == "EventData":
            event["EventData"] = _event_data(part)
        elif name == "UserData":
            event["UserData"] = {_name(child): {_name(g): _text(g) for g in child} for child in part}
    return event


def _system_value(element: ElementTree.Element) -> Any:
    """`<EventID>1</EventID>` → "1"; `<Provider Name="x"/>` → {"#attributes": {"Name": "x"}}."""
    if not element.attrib:
        return _text(element)
    value: dict[str, Any] = {"#attributes": {_name_of(k): v for k, v in element.attrib.items()}}
    if (element.text or "").strip():
        value["#text"] = element.text
    return value


def _event_data(element: ElementTree.Element) -> dict[str, Any]:
    data: dict[str, Any] = {}
    unnamed = []
    for item in element:
        name = item.get("Name")
        if name is None:
            unnamed.append(_text(item))
        else:
            data[name] = _text(item)
    if unnamed:
        data.setdefault("Data", unnamed if len(unnamed) > 1 else unnamed[0])
    return data


def _text(element: ElementTree.Element) -> str:
    return element.text or ""


def _name(element: ElementTree.Element) -> str:
    return _name_of(element.tag)


def _name_of(tag: str) -> str:
    """A tag or attribute name without its `{namespace}`."""
    return tag.rpartition("}")[2]
