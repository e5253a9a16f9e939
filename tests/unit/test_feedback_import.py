"""Support-ticket and user-feedback exports (watchstander.inputs.feedback): CSV and JSON
reading, `file:line: field: message` errors reported all at once, and the hypercare
summary figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchstander.errors import InputError
from watchstander.inputs.feedback import (
    FeedbackItem,
    FeedbackSummary,
    parse_feedback_csv,
    parse_feedback_json,
    read_feedback,
    summarize,
)

T0 = datetime(2026, 3, 2, tzinfo=UTC)

VALID_CSV = """\
ID,Created,Kind,Category,Sentiment,Status,Critical,First Response Hours,resolved,text
T-1,2026-03-02T09:00:00Z,ticket,How To,,open,no,1.5,,"Cannot find
the export button"
F-2,2026-03-02T10:30:00+01:00,Feedback,Performance,Positive,,,,,Much faster now
T-3,2026-03-02T11:00:00Z,,Bug,-1,Resolved,YES,0,2026-03-02T13:00:00Z,Login fails
"""

VALID_JSON = """\
{
  "exported_at": "2026-03-03T00:00:00Z",
  "items": [
    {"id": "T-1", "created": "2026-03-02T09:00:00Z", "kind": "ticket",
     "category": "How To", "status": "open", "critical": false,
     "first_response_hours": 1.5, "text": "Cannot find\\nthe export button"},
    {"id": "F-2", "created": "2026-03-02T10:30:00+01:00", "kind": "Feedback",
     "category": "Performance", "sentiment": "Positive",
     "text": "Much faster now"}
  ]
}
"""

EXPECTED = [
    FeedbackItem(
        id="T-1",
        created=datetime(2026, 3, 2, 9, tzinfo=UTC),
        kind="ticket",
        category="how-to",
        sentiment=None,
        status="open",
        critical=False,
        first_response_hours=1.5,
        resolved=None,
        text="Cannot find\nthe export button",
    ),
    FeedbackItem(
        id="F-2",
        created=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        kind="feedback",
        category="performance",
        sentiment="positive",
        status="open",
        critical=False,
        first_response_hours=None,
        resolved=None,
        text="Much faster now",
    ),
    FeedbackItem(
        id="T-3",
        created=datetime(2026, 3, 2, 11, tzinfo=UTC),
        kind="ticket",
        category="bug",
        sentiment="negative",
        status="resolved",
        critical=True,
        first_response_hours=0.0,
        resolved=datetime(2026, 3, 2, 13, tzinfo=UTC),
        text="Login fails",
    ),
]

HEADER = "id,created,category,sentiment,status,critical,first_response_hours,resolved,text\n"
GOOD_ROW = "T-1,2026-03-02T09:00:00Z,bug,negative,open,false,1,,fine\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_feedback(path)
    return str(caught.value)


def json_list(*items: dict[str, object]) -> str:
    return json.dumps(list(items), indent=2)


# -- valid files ------------------------------------------------------------------------------


def test_csv_reads_every_field_and_defaults(tmp_path: Path) -> None:
    items = read_feedback(write(tmp_path, "export.csv", VALID_CSV))
    assert items == EXPECTED
    assert all(i.created.tzinfo is UTC for i in items)


def test_json_gives_the_same_items_as_csv(tmp_path: Path) -> None:
    from_csv = read_feedback(write(tmp_path, "export.csv", VALID_CSV))
    third = {
        "id": "T-3",
        "created": "2026-03-02T11:00:00Z",
        "category": "Bug",
        "sentiment": -1,
        "status": "resolved",
        "critical": True,
        "first_response_hours": 0,
        "resolved": "2026-03-02T13:00:00Z",
        "text": "Login fails",
    }
    document = json.loads(VALID_JSON)
    document["items"].append(third)
    wrapped = read_feedback(write(tmp_path, "wrapped.json", json.dumps(document, indent=2)))
    bare = read_feedback(write(tmp_path, "bare.json", json.dumps(document["items"])))
    assert from_csv == wrapped == bare == EXPECTED


def test_suffix_is_case_insensitive_and_a_bom_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "EXPORT.CSV"
    path.write_bytes(b"\xef\xbb\xbf" + VALID_CSV.encode())
    assert read_feedback(path) == EXPECTED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Positive", "positive"), ("NEGATIVE", "negative"), ("+1", "positive"), ("0", "neutral")],
)
def test_sentiment_words_and_numbers(raw: str, expected: str) -> None:
    [item] = parse_feedback_csv(HEADER + GOOD_ROW.replace("negative", raw), "s.csv")
    assert item.sentiment == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("True", True), ("yes", True), ("1", True), ("FALSE", False), ("no", False), ("0", False)],
)
def test_critical_spellings(raw: str, expected: bool) -> None:
    [item] = parse_feedback_csv(HEADER + GOOD_ROW.replace("false", raw), "c.csv")
    assert item.critical is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("How To", "how-to"),
        ("how_to", "how-to"),
        (" Bug  Reports ", "bug-reports"),
        ("UI/UX", "ui-ux"),
    ],
)
def test_category_is_lower_kebab(raw: str, expected: str) -> None:
    [item] = parse_feedback_csv(HEADER + GOOD_ROW.replace(",bug,", f",{raw},"), "k.csv")
    assert item.category == expected


def test_blank_rows_are_skipped_and_short_rows_padded() -> None:
    text = "id,created,category,text\n\nA,2026-03-02T09:00:00Z,bug\n,,,\n"
    [item] = parse_feedback_csv(text, "p.csv")
    assert (item.id, item.text, item.kind, item.status) == ("A", "", "ticket", "open")


# -- bad input: one problem each --------------------------------------------------------------


# The bad row sits after a quoted two-line value, so it is on physical line 4.
def _csv_with(bad_row: str, header: str = HEADER) -> str:
    return header + 'T-0,2026-03-01T09:00:00Z,bug,,,,,,"two\nlines"\n' + bad_row


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("T-1,yesterday,bug,,,,,,\n", "created", "not an ISO 8601 date-time"),
        ("T-1,2026-03-02T09:00:00,bug,,,,,,\n", "created", "add Z or an offset"),
        ("T-1,2026-03-02T09:00:00Z,bug,meh,,,,,\n", "sentiment", "'meh' is not one of"),
        ("T-1,2026-03-02T09:00:00Z,bug,,,,-2,,\n", "first_response_hours", "negative"),
        ("T-1,2026-03-02T09:00:00Z,bug,,,,inf,,\n", "first_response_hours", "not a number"),
        ("T-1,2026-03-02T09:00:00Z,bug,,,maybe,,,\n", "critical", "'maybe' is not true/false"),
        ("T-1,2026-03-02T09:00:00Z,bug,,closed,,,,\n", "status", "'closed' is not one of"),
        ("T-1,2026-03-02T09:00:00Z,,,,,,,\n", "category", "missing (required)"),
        ("T-1,2026-03-02T09:00:00Z,???,,,,,,\n", "category", "no letters or digits"),
        (
            "T-1,2026-03-02T09:00:00Z,bug,,,,,2026-03-01T09:00:00Z,\n",
            "resolved",
            "is before created",
        ),
        ("T-1,2026-03-02T09:00:00Z,bug,,,,,,a,b\n", "row", "10 values, but the header has 9"),
    ],
)
def test_csv_bad_value_names_file_line_and_field(
    tmp_path: Path, row: str, field: str, words: str
) -> None:
    message = error_of(write(tmp_path, "tickets.csv", _csv_with(row)))
    assert message.startswith(f"{tmp_path / 'tickets.csv'}:4: {field}: ")
    assert words in message
    assert len(message.splitlines()) == 1


def test_csv_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    row = "T-0,2026-03-02T09:00:00Z,bug,,,,,,\n"
    message = error_of(write(tmp_path, "dup.csv", _csv_with(row)))
    assert message == f"{tmp_path / 'dup.csv'}:4: id: 'T-0' is already used (line 2)"


def test_csv_unknown_column_is_reported_on_line_1(tmp_path: Path) -> None:
    header = HEADER.rstrip("\n") + ",Priority\n"
    message = error_of(write(tmp_path, "cols.csv", header + GOOD_ROW))
    assert message.startswith(f"{tmp_path / 'cols.csv'}:1: Priority: unknown column")


def test_csv_semicolon_export_gets_a_hint(tmp_path: Path) -> None:
    text = "id;created;category\nA;2026-03-02T09:00:00Z;bug\n"
    message = error_of(write(tmp_path, "semi.csv", text))
    assert "separated by ';'" in message
    assert "semi.csv:1: created: missing column (required)" in message


@pytest.mark.parametrize("column", ["id", "created", "category"])
def test_csv_missing_required_column(tmp_path: Path, column: str) -> None:
    names = [c for c in HEADER.strip().split(",") if c != column]
    text = ",".join(names) + "\n" + ",".join("x" for _ in names) + "\n"
    message = error_of(write(tmp_path, "miss.csv", text))
    assert f"miss.csv:1: {column}: missing column (required)" in message


def test_csv_repeated_column(tmp_path: Path) -> None:
    text = "id,created,category,Created\nA,2026-03-02T09:00:00Z,bug,x\n"
    message = error_of(write(tmp_path, "twice.csv", text))
    assert "twice.csv:1: Created: column given twice (columns 2 and 4)" in message


def test_csv_unclosed_quote(tmp_path: Path) -> None:
    text = HEADER + GOOD_ROW + 'T-2,2026-03-02T09:00:00Z,bug,,,,,,"never closed\nmore\n'
    message = error_of(write(tmp_path, "quote.csv", text))
    assert message.startswith(f"{tmp_path / 'quote.csv'}:3: row: not valid CSV")
    assert "never closed" in message


def _json_error(tmp_path: Path, items: list[object]) -> str:
    return error_of(write(tmp_path, "feed.json", json.dumps(items, indent=2)))


GOOD = {"id": "A", "created": "2026-03-02T09:00:00Z", "category": "bug"}


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"created": 5}, "created", "expected an ISO 8601 date-time string, got a number"),
        ({"created": "2026-03-02T09:00:00"}, "created", "add Z or an offset"),
        ({"id": True}, "id", "got a boolean"),
        ({"category": ["bug"]}, "category", "got an array"),
        ({"critical": "perhaps"}, "critical", "'perhaps' is not true/false"),
        ({"sentiment": 2}, "sentiment", "got a number"),
        ({"first_response_hours": -0.5}, "first_response_hours", "negative"),
        ({"category": None}, "category", "missing (required)"),
        ({"priority": "P1"}, "priority", "unknown field"),
    ],
)
def test_json_bad_value_names_item_field_and_line(
    tmp_path: Path, bad: dict[str, object], field: str, words: str
) -> None:
    message = error_of(write(tmp_path, "feed.json", json_list(GOOD, {**GOOD, "id": "B", **bad})))
    # json.dumps(indent=2) puts the second item's keys on lines 8 to 11.
    assert message.startswith(f"{tmp_path / 'feed.json'}:")
    assert f": items[1].{field}: " in message
    assert words in message
    line = int(message.split(": ")[0].rsplit(":", 1)[1])
    assert 8 <= line <= 11
    assert len(message.splitlines()) == 1


def test_json_line_is_the_line_of_the_value(tmp_path: Path) -> None:
    text = '[\n  {"id": "A",\n   "created": "2026-03-02T09:00:00Z",\n   "category": 7}\n]\n'
    message = error_of(write(tmp_path, "lines.json", text))
    assert (
        message
        == f"{tmp_path / 'lines.json'}:4: items[0].category: expected a string, got a number"
    )


def test_json_nan_is_refused_where_it_is(tmp_path: Path) -> None:
    text = '{"items": [\n {"id": "A", "created": "2026-03-02T09:00:00Z", "category": "bug",\n  "first_response_hours": NaN}\n]}\n'
    message = error_of(write(tmp_path, "nan.json", text))
    assert (
        message
        == f"{tmp_path / 'nan.json'}:3: items[0].first_response_hours: NaN is not valid JSON"
    )


def test_json_infinity_in_metadata_is_refused_too(tmp_path: Path) -> None:
    text = '{"total": Infinity,\n "items": [{"id": "A", "created": "2026-03-02T09:00:00Z", "category": "bug"}]}'
    message = error_of(write(tmp_path, "inf.json", text))
    assert "inf.json:1: total: NaN and Infinity are not valid JSON" in message


def test_json_duplicate_id_names_both(tmp_path: Path) -> None:
    message = _json_error(tmp_path, [GOOD, {**GOOD}])
    assert "items[1].id: 'A' is already used (items[0] on line 3)" in message


def test_json_repeated_key(tmp_path: Path) -> None:
    text = '[{"id": "A", "created": "2026-03-02T09:00:00Z",\n  "category": "bug", "ID": "B"}]'
    message = error_of(write(tmp_path, "rep.json", text))
    assert "rep.json:2: items[0].ID: given twice (first on line 1)" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"id": "A"}', 'no "items"'),
        ('{"items": {"id": "A"}}', "items: expected an array, got an object"),
        ('"items"', "got a string"),
        ("[1]", "items[0]: expected an object, got a number"),
        ("[]", "no items"),
        ('{"items": []}', "no items"),
        ('[{"id": "A",}]', "invalid JSON"),
    ],
)
def test_json_wrong_shape(tmp_path: Path, text: str, words: str) -> None:
    message = error_of(write(tmp_path, "shape.json", text))
    assert message.startswith(str(tmp_path / "shape.json"))
    assert words in message


# -- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["export.txt", "export.xlsx", "export"])
def test_unknown_suffix(tmp_path: Path, name: str) -> None:
    message = error_of(write(tmp_path, name, VALID_CSV))
    assert message.startswith(str(tmp_path / name))
    assert "unknown file type" in message and ".csv or .json" in message
    if "." in name:
        assert repr(name[name.index(".") :]) in message


@pytest.mark.parametrize("name", ["empty.csv", "empty.json"])
@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    message = error_of(write(tmp_path, name, text))
    assert message == f"{tmp_path / name}: empty file, no items"


def test_header_only_csv(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "head.csv", HEADER + "\n,,,\n"))
    assert message.startswith(f"{tmp_path / 'head.csv'}: no items")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"
    (tmp_path / "dir.json").mkdir()
    assert "is a directory" in error_of(tmp_path / "dir.json")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(HEADER.encode() + "T-1,2026-03-02T09:00:00Z,caf\xe9".encode("latin-1"))
    assert error_of(path).startswith(f"{path}:2:")


# -- every problem at once --------------------------------------------------------------------


def test_csv_reports_every_problem_in_line_order(tmp_path: Path) -> None:
    text = (
        "id,created,category,sentiment,critical,first_response_hours,Owner\n"  # 1
        "A,2026-03-02T09:00:00Z,bug,,,,x\n"  # 2: fine
        "B,2026-03-02T09:00,bug,meh,,,x\n"  # 3: naive, sentiment
        "A,2026-03-02T09:00:00Z,bug,,maybe,-1,x\n"  # 4: duplicate, boolean, hours
    )
    lines = error_of(write(tmp_path, "many.csv", text)).splitlines()
    prefix = str(tmp_path / "many.csv")
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"{prefix}:1", "Owner"],
        [f"{prefix}:3", "created"],
        [f"{prefix}:3", "sentiment"],
        [f"{prefix}:4", "critical"],
        [f"{prefix}:4", "first_response_hours"],
        [f"{prefix}:4", "id"],
    ]


def test_json_reports_every_problem(tmp_path: Path) -> None:
    message = _json_error(
        tmp_path,
        [
            {**GOOD, "created": 5},
            {**GOOD, "id": "B", "sentiment": "great"},
            "oops",
        ],
    )
    assert "items[0].created" in message
    assert "items[1].sentiment" in message
    assert "items[2]: expected an object" in message
    assert len(message.splitlines()) == 3


def test_nothing_partial_is_returned() -> None:
    with pytest.raises(InputError):
        parse_feedback_csv(HEADER + GOOD_ROW + "T-2,bad,bug,,,,,,\n", "part.csv")
    with pytest.raises(InputError):
        parse_feedback_json(json_list(GOOD, {**GOOD, "id": "B", "kind": "memo"}), "part.json")


# -- summary ----------------------------------------------------------------------------------


def item(
    n: int,
    *,
    kind: str = "ticket",
    category: str = "bug",
    sentiment: str | None = None,
    status: str = "open",
    critical: bool = False,
    hours: float | None = None,
    at: datetime | None = None,
    text: str = "",
) -> FeedbackItem:
    return FeedbackItem(
        id=f"I-{n}",
        created=at or T0 + timedelta(minutes=n),
        kind=kind,
        category=category,
        sentiment=sentiment,
        status=status,
        critical=critical,
        first_response_hours=hours,
        resolved=None,
        text=text,
    )


def test_summary_figures() -> None:
    since, until = T0, T0 + timedelta(days=1)
    items = [
        item(1, category="bug", critical=True, hours=2.0),
        item(2, category="bug", sentiment="negative", hours=4.0),
        item(3, category="how-to", status="resolved", critical=True),
        item(4, kind="feedback", category="ui", sentiment="positive", text="Love it"),
        item(5, kind="feedback", category="performance", sentiment="positive", text="Fast"),
        item(6, kind="feedback", category="performance", sentiment="negative"),
        item(7, kind="feedback", category="praise", sentiment="neutral", text="ok"),
        # Before the window: not counted, but a critical open one still is.
        item(8, category="old", critical=True, at=since - timedelta(days=3), hours=100.0),
        # At `until`: outside, also for critical_open.
        item(9, category="late", critical=True, at=until, sentiment="positive", text="Later"),
    ]
    summary = summarize(items, since, until)
    assert summary == FeedbackSummary(
        tickets=3,
        feedback=4,
        by_category={"bug": 2, "performance": 2, "how-to": 1, "praise": 1, "ui": 1},
        critical_open=2,
        sentiment_positive_pct=pytest.approx(40.0),
        sentiment_label="NEUTRAL",
        top_issues=["bug", "how-to", "performance"],
        top_praises=["Fast", "Love it"],
        avg_first_response_hours=3.0,
    )
    assert list(summary.by_category) == ["bug", "performance", "how-to", "praise", "ui"]


@pytest.mark.parametrize(
    ("positive", "total", "label"),
    [
        (7, 10, "POSITIVE"),  # exactly 70 %
        (699, 1000, "NEUTRAL"),  # 69.9 %
        (2, 5, "NEUTRAL"),  # exactly 40 %
        (399, 1000, "NEGATIVE"),  # 39.9 %
        (0, 3, "NEGATIVE"),
        (3, 3, "POSITIVE"),
    ],
)
def test_sentiment_label_boundaries(positive: int, total: int, label: str) -> None:
    items = [
        item(n, kind="feedback", sentiment="positive" if n < positive else "negative")
        for n in range(total)
    ]
    summary = summarize(items, T0, T0 + timedelta(days=30))
    assert summary.sentiment_positive_pct == pytest.approx(positive * 100 / total)
    assert summary.sentiment_label == label


def test_summary_without_sentiment_or_items() -> None:
    summary = summarize([item(1), item(2, category="ui")], T0, T0 + timedelta(days=1))
    assert summary.sentiment_positive_pct is None
    assert summary.sentiment_label is None
    assert summary.avg_first_response_hours is None
    empty = summarize([], T0, T0 + timedelta(days=1))
    assert (empty.tickets, empty.feedback, empty.by_category, empty.top_issues) == (0, 0, {}, [])


def test_top_lists_keep_three_and_praises_are_newest_first_and_short() -> None:
    long = "word " * 40
    items = [
        item(1, kind="feedback", sentiment="positive", text="oldest"),
        item(2, kind="feedback", sentiment="positive", text=long),
        item(3, kind="feedback", sentiment="positive", text="middle"),
        item(4, kind="feedback", sentiment="positive", text="middle"),  # the same text once
        item(5, kind="feedback", sentiment="positive", text="newest\n  line"),
        item(6, category="a"),
        item(7, category="b"),
        item(8, category="b"),
        item(9, category="c"),
        item(10, category="d"),
        item(11, category="d"),
        item(12, kind="feedback", category="e", sentiment="neutral"),  # not an issue
        item(13, kind="feedback", category="e", sentiment="neutral"),
        item(14, kind="feedback", category="e", sentiment="neutral"),
    ]
    summary = summarize(items, T0, T0 + timedelta(days=1))
    assert summary.top_issues == ["b", "d", "a"]
    assert summary.top_praises[:2] == ["newest line", "middle"]
    assert len(summary.top_praises) == 3
    assert len(summary.top_praises[2]) <= 80
    assert summary.top_praises[2].startswith("word word")
    assert summary.top_praises[2].endswith("\u2026")


def test_summarize_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="since"):
        summarize([], datetime(2026, 3, 2), T0)
