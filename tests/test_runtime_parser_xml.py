"""The xml_event parser: Windows-style XML events, one per line, read with the evtx layout's field names."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.parsers import ParseError, evtx, parse, xml_event

WINDOWS_XML = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    '<Provider Name="Service Control Manager" Guid="{555908d1-a6d7-4695-8e1e-26931d2012f4}" EventSourceName="Service Control Manager"/>'
    '<EventID Qualifiers="16384">7045</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>'
    '<Keywords>0x8080000000000000</Keywords><TimeCreated SystemTime="2024-05-14T10:40:02.1183920Z"/><EventRecordID>99120</EventRecordID>'
    '<Correlation/><Execution ProcessID="664" ThreadID="7140"/><Channel>System</Channel><Computer>srv-app-07</Computer>'
    '<Security UserID="S-1-5-21-1377283216-344919071-3415362939-1104"/></System><EventData>'
    '<Data Name="ServiceName">PSEXESVC</Data><Data Name="ImagePath">%SystemRoot%\\PSEXESVC.exe</Data>'
    '<Data Name="Service Type">user mode service</Data><Data Name="StartType">demand start</Data><Data Name="AccountName">LocalSystem</Data>'
    "</EventData></Event>"
)


def test_a_forwarded_windows_event_reads_as_its_evtx_dump_form():
    [record] = parse(("<14>May 14 10:40:02 wec-01 winlogbeat: " + WINDOWS_XML).encode(), {"type": "xml_event"})
    assert record["EventID"] == "7045" and record["EventID_Qualifiers"] == "16384"
    assert (record["Channel"], record["Computer"], record["Provider_Name"]) == ("System", "srv-app-07", "Service Control Manager")
    assert record["TimeCreated_SystemTime"] == "2024-05-14T10:40:02.1183920Z"
    assert (record["ServiceName"], record["ServiceType"], record["ImagePath"]) == ("PSEXESVC", "user mode service", "%SystemRoot%\\PSEXESVC.exe")
    assert record["Security_UserID"].startswith("S-1-5-21-")


def test_the_same_event_as_xml_and_as_evtx_dump_json_gives_the_same_record():
    [from_xml] = parse(WINDOWS_XML.encode(), {"type": "xml_event"})
    dumped = {"Event": xml_event.event_dict(ElementTree.fromstring(WINDOWS_XML))}
    assert evtx.flatten(dumped) == from_xml


def test_user_data_and_unnamed_data():
    line = (
        "<Event><System><EventID>1102</EventID><Channel>Security</Channel></System><UserData>"
        "<LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/eventlog'>"
        "<SubjectUserName>Administrator</SubjectUserName><SubjectDomainName>CORP</SubjectDomainName></LogFileCleared></UserData></Event>\n"
        "<Event><System><EventID>104</EventID><Channel>System</Channel></System><EventData><Data>one</Data><Data>two</Data></EventData></Event>\n"
    )
    cleared, classic = parse(line.encode(), {"type": "xml_event"})
    assert (cleared["SubjectUserName"], cleared["SubjectDomainName"]) == ("Administrator", "CORP")
    assert classic["Data"] == ["one", "two"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("May 14 10:40:02 host app: no xml here", "holds no <Event> XML"),
        ("<Event><System><EventID>1</EventID>", "is not an XML event"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><Event><System><EventID>&a;</EventID></System></Event>', "undefined entity"),
        ('<Event><!DOCTYPE x [<!ENTITY a "aaaa">]><System/></Event>', "DOCTYPE or ENTITY declaration is refused"),
        ("<EventLog><System/></EventLog>", "the XML root is <EventLog>"),
    ],
)
def test_bad_lines_are_parse_errors(line, reason):
    with pytest.raises(ParseError, match=reason):
        parse(line.encode(), {"type": "xml_event"})


@given(st.text(max_size=200))
def test_any_text_after_the_event_start_is_a_record_or_a_parse_error(text):
    """Hostile lines never raise anything but ParseError (the classifier quarantines those)."""
    try:
        records = parse(("<Event>" + text).encode("utf-8", "surrogatepass"), {"type": "xml_event"})
    except ParseError:
        return
    assert all(isinstance(r, dict) for r in records)
