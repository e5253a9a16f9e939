"""Support tickets and user feedback exported from a helpdesk or survey tool, read from CSV
or JSON for the hypercare period after a release, and summarised the way the hypercare
report's "Support Ticket Analysis" and "User Feedback Summary" sections want them.

Each record becomes a FeedbackItem with these fields (a CSV column or a JSON key each):

- id: required, unique within the file (a JSON id may also be a whole number);
- created: required, an ISO 8601 date-time with a time zone ("2026-03-02T09:30:00Z",
  "...+01:00"); kept in UTC;
- kind: ticket | feedback, default ticket;
- category: required, free text normalised to lower-case kebab ("How To" -> how-to);
- sentiment: positive | neutral | negative (any case), or +1 / 0 / -1; empty for none;
- status: open | resolved, default open;
- critical: a blocker for users: true/false, yes/no, 1/0; default false;
- first_response_hours: hours until the first response, a number >= 0, or empty;
- resolved: when it was resolved, like created, not before it; or empty;
- text: the summary or comment, may be empty.

CSV: the first row names the columns, in any order; names ignore case, and spaces,
underscores and dashes are the same ("First Response Hours"). Line numbers in messages are
the physical line a record starts on, so a quoted value spanning lines counts them all.
A row with fewer values than the header leaves the rest empty.

JSON: a list of objects, or an object whose "items" key holds that list (other top-level
keys, export metadata, are ignored). Keys follow the CSV column rules; null means empty.
Messages name the item by position (items[3].created) and the line its value is on.
NaN and Infinity are not JSON and are refused.

Every problem in a file is reported at once, as `file:line: field: message` lines of one
InputError; nothing is returned from a file with any problem.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchstander.errors import InputError
from watchstander.inputs.jsonshape import kind as json_kind

__all__ = [
    "FIELDS",
    "FeedbackItem",
    "FeedbackSummary",
    "parse_feedback_csv",
    "parse_feedback_json",
    "read_feedback",
    "summarize",
]

FIELDS = (
    "id",
    "created",
    "kind",
    "category",
    "sentiment",
    "status",
    "critical",
    "first_response_hours",
    "resolved",
    "text",
)
REQUIRED = ("id", "created", "category")
KINDS = ("ticket", "feedback")
SENTIMENTS = ("positive", "neutral", "negative")
STATUSES = ("open", "resolved")
PRAISE_LIMIT = 80
TOP = 3

_SENTIMENT_WORDS = {
    "positive": "positive",
    "neutral": "neutral",
    "negative": "negative",
    "+1": "positive",
    "1": "positive",
    "0": "neutral",
    "-1": "negative",
}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_KEY_SEPARATORS = re.compile(r"[\s_-]+")
_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")
_JSON_SPACE = " \t\n\r"


@dataclass(frozen=True)
class FeedbackItem:
    """One support ticket or piece of user feedback (see the module docstring)."""

    id: str
    created: datetime
    kind: str
    category: str
    sentiment: str | None
    status: str
    critical: bool
    first_response_hours: float | None
    resolved: datetime | None
    text: str


@dataclass(frozen=True)
class FeedbackSummary:
    """summarize()'s figures for the items created in [since, until).

    by_category counts every item in the window, most first (ties by name). critical_open
    counts critical open items created before `until`, however old. sentiment_positive_pct
    is the share of positive among the window's items with a sentiment (None when none has
    one); sentiment_label is POSITIVE from 70, NEUTRAL from 40, else NEGATIVE. top_issues
    are the (up to 3) most common categories of tickets and negative feedback; top_praises
    the texts of the (up to 3) newest positive items, at most 80 characters, each once.
    avg_first_response_hours averages the window's items that have a response time."""

    tickets: int
    feedback: int
    by_category: dict[str, int]
    critical_open: int
    sentiment_positive_pct: float | None
    sentiment_label: str | None
    top_issues: list[str]
    top_praises: list[str]
    avg_first_response_hours: float | None


# -- files ------------------------------------------------------------------------------------


def read_feedback(path: Path) -> list[FeedbackItem]:
    """Read a .csv or .json export (by the file's suffix, any case). InputError when the
    suffix is neither, the file is missing, unreadable, not UTF-8, empty or invalid."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        shown = repr(path.suffix) if path.suffix else "no suffix"
        raise InputError(f"{path}: unknown file type ({shown}); feedback exports are .csv or .json")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a feedback export") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{path}:{line}:{col}: not UTF-8 text (byte 0x{byte}); save the export as UTF-8"
        ) from None
    if suffix == ".csv":
        return parse_feedback_csv(text, str(path))
    return parse_feedback_json(text, str(path))


# -- CSV --------------------------------------------------------------------------------------


def parse_feedback_csv(text: str, source: str) -> list[FeedbackItem]:
    """The items of a CSV export's text; `source` names it in messages."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError(f"{source}: empty file, no items")
    problems = _Problems(source)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, dict[str, tuple[Any, int]]]] = []
    try:
        rows = _csv_rows(reader)
        first = next(rows, None)
        if first is None:
            raise InputError(f"{source}: no items (only blank rows, not even a header)")
        header_line, header = first
        columns = _csv_header(header, header_line, problems)
        for start, row in rows:
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                problems.add(
                    start,
                    "row",
                    f"{len(row)} values, but the header has {len(header)} columns"
                    " (quote values that contain commas)",
                )
                continue
            fields = {
                name: (row[index] if index < len(row) else "", start)
                for name, index in columns.items()
            }
            records.append((start, fields))
    except _BrokenCsv as exc:
        problems.add(exc.line, "row", exc.message)
        problems.raise_if_any()
    if not records:
        problems.raise_if_any()
        raise InputError(f"{source}: no items (only a header row on line {header_line})")
    return _build_all(records, "", problems)


class _BrokenCsv(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line = line
        self.message = message


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of every row that is not blank."""
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            hint = "; a quote opened here is never closed" if "end of data" in str(exc) else ""
            raise _BrokenCsv(last + 1, f"not valid CSV ({exc}{hint})") from None
        start, last = last + 1, reader.line_num
        if any(cell.strip() for cell in row):
            yield start, row


def _csv_header(header: list[str], line: int, problems: _Problems) -> dict[str, int]:
    """Field name -> column index; unknown, unnamed, repeated and missing columns reported."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _field_name(cell)
        if not name:
            problems.add(line, f"column {index + 1}", "has no name")
        elif name not in FIELDS:
            hint = ""
            if ";" in cell or "\t" in cell:
                hint = "; is the file separated by ';' or tabs? Use commas"
            problems.add(
                line,
                cell.strip(),
                f"unknown column (expected {', '.join(FIELDS)}){hint}",
            )
        elif name in columns:
            problems.add(
                line,
                cell.strip(),
                f"column given twice (columns {columns[name] + 1} and {index + 1})",
            )
        else:
            columns[name] = index
    for name in REQUIRED:
        if name not in columns:
            problems.add(line, name, "missing column (required)")
    return columns


# -- JSON -------------------------------------------------------------------------------------


def parse_feedback_json(text: str, source: str) -> list[FeedbackItem]:
    """The items of a JSON export's text; `source` names it in messages."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise InputError(f"{source}: empty file, no items")
    decoder = json.JSONDecoder(parse_constant=_Constant)
    try:
        document = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{source}: invalid JSON (nested too deeply)") from None
    problems = _Problems(source)
    doc = _JsonText(text, decoder)
    start = doc.skip(0)
    elements: list[tuple[Any, int]] = []
    shape = 'expected a list of items or an object with an "items" list'
    if isinstance(document, list):
        elements = doc.array(start)
    elif isinstance(document, dict):
        found: dict[str, int] = {}
        for key, key_pos, value, value_pos in doc.members(start):
            line = doc.line(key_pos)
            if key != "items":
                if _has_constant(value):
                    problems.add(line, key, "NaN and Infinity are not valid JSON")
            elif key in found:
                problems.add(line, key, f"given twice (first on line {found[key]})")
            elif not isinstance(value, list):
                problems.add(line, key, f"expected an array, got {json_kind(value)}")
                found[key] = line
            else:
                found[key] = line
                elements = doc.array(value_pos)
        if "items" not in found:
            problems.raise_if_any()
            raise InputError(f'{source}: {shape}; this object has no "items"')
    else:
        raise InputError(f"{source}: {shape}, got {json_kind(document)}")
    if not elements:
        problems.raise_if_any()
        raise InputError(f"{source}: no items (the list is empty)")
    records: list[tuple[int, dict[str, tuple[Any, int]]]] = []
    for i, (element, pos) in enumerate(elements):
        line = doc.line(pos)
        where = f"items[{i}]"
        if not isinstance(element, dict):
            problems.add(line, where, f"expected an object, got {json_kind(element)}")
            continue
        fields: dict[str, tuple[Any, int]] = {}
        for key, key_pos, value, value_pos in doc.members(pos):
            name = _field_name(key)
            key_line = doc.line(key_pos)
            if name not in FIELDS:
                problems.add(
                    key_line, f"{where}.{key}", f"unknown field (expected {', '.join(FIELDS)})"
                )
            elif name in fields:
                problems.add(
                    key_line, f"{where}.{key}", f"given twice (first on line {fields[name][1]})"
                )
            else:
                fields[name] = (value, doc.line(value_pos))
        records.append((line, fields))
    return _build_all(records, "items[{index}].", problems, indexed=True)


class _Constant:
    """What NaN, Infinity and -Infinity decode to, so they are reported where they are."""

    def __init__(self, name: str) -> None:
        self.name = name


def _has_constant(value: Any) -> bool:
    if isinstance(value, _Constant):
        return True
    if isinstance(value, list):
        return any(_has_constant(v) for v in value)
    if isinstance(value, dict):
        return any(_has_constant(v) for v in value.values())
    return False


class _JsonText:
    """Walks a JSON text already known to be valid, to find where values start."""

    def __init__(self, text: str, decoder: json.JSONDecoder) -> None:
        self.text = text
        self.decoder = decoder
        self.newlines = [match.start() for match in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def skip(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos] in _JSON_SPACE:
            pos += 1
        return pos

    def array(self, pos: int) -> list[tuple[Any, int]]:
        """(value, start) of each element of the array starting at `pos`."""
        out: list[tuple[Any, int]] = []
        pos = self.skip(pos + 1)
        while self.text[pos] != "]":
            value, end = self.decoder.raw_decode(self.text, pos)
            out.append((value, pos))
            pos = self.skip(end)
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return out

    def members(self, pos: int) -> list[tuple[str, int, Any, int]]:
        """(key, key start, value, value start) of each member of the object at `pos`, in
        order and with repeated keys kept."""
        out: list[tuple[str, int, Any, int]] = []
        pos = self.skip(pos + 1)
        while self.text[pos] != "}":
            key, end = self.decoder.raw_decode(self.text, pos)
            value_pos = self.skip(self.skip(end) + 1)  # past the colon
            value, end = self.decoder.raw_decode(self.text, value_pos)
            out.append((key, pos, value, value_pos))
            pos = self.skip(end)
            if self.text[pos] == ",":
                pos = self.skip(pos + 1)
        return out


# -- records ----------------------------------------------------------------------------------


class _Problems:
    """The problems found so far; raised together, in the order of their lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[tuple[int, str]] = []

    def add(self, line: int | None, field: str, message: str) -> None:
        where = f"{self.source}:{line}" if line else self.source
        self.errors.append((line or 0, f"{where}: {field}: {message}"))

    def raise_if_any(self) -> None:
        if self.errors:
            ordered = sorted(self.errors, key=lambda error: error[0])
            raise InputError("\n".join(message for _, message in ordered))


class _Bad(Exception):
    """A value's problem, reported by _build against its field and line."""


def _build_all(
    records: Sequence[tuple[int, Mapping[str, tuple[Any, int]]]],
    prefix: str,
    problems: _Problems,
    *,
    indexed: bool = False,
) -> list[FeedbackItem]:
    items: list[FeedbackItem] = []
    seen: dict[str, tuple[int, str]] = {}
    for index, (line, fields) in enumerate(records):
        label = prefix.format(index=index)
        item = _build(fields, line, label, problems)
        raw_id, id_line = fields.get("id", (None, line))
        try:
            item_id = None if _blank(raw_id) else _id(raw_id)
        except _Bad:
            item_id = None  # reported by _build
        if item_id is not None and item_id in seen:
            first_line, first_label = seen[item_id]
            other = f"{first_label} on line {first_line}" if indexed else f"line {first_line}"
            problems.add(id_line, f"{label}id", f"{item_id!r} is already used ({other})")
            continue
        if item_id is not None:
            seen[item_id] = (id_line, label.rstrip("."))
        if item is not None:
            items.append(item)
    problems.raise_if_any()
    return items


def _build(
    fields: Mapping[str, tuple[Any, int]], line: int, label: str, problems: _Problems
) -> FeedbackItem | None:
    ok = True

    def get(name: str, convert: Callable[[Any], Any], default: Any = None) -> Any:
        nonlocal ok
        raw, at = fields.get(name, (None, line))
        try:
            if isinstance(raw, _Constant):
                raise _Bad(f"{raw.name} is not valid JSON")
            if _blank(raw):
                if name in REQUIRED:
                    raise _Bad("missing (required)")
                return default
            return convert(raw)
        except _Bad as exc:
            problems.add(at, f"{label}{name}", str(exc))
            ok = False
            return None

    item_id = get("id", _id)
    created = get("created", _time)
    item_kind = get("kind", lambda raw: _choice(raw, KINDS), "ticket")
    category = get("category", _category)
    sentiment = get("sentiment", _sentiment)
    status = get("status", lambda raw: _choice(raw, STATUSES), "open")
    critical = get("critical", _boolean, False)
    hours = get("first_response_hours", _hours)
    resolved = get("resolved", _time)
    text = get("text", _text, "")
    if created is not None and resolved is not None and resolved < created:
        problems.add(
            fields["resolved"][1],
            f"{label}resolved",
            f"{resolved.isoformat()} is before created ({created.isoformat()})",
        )
        ok = False
    if not ok:
        return None
    return FeedbackItem(
        id=item_id,
        created=created,
        kind=item_kind,
        category=category,
        sentiment=sentiment,
        status=status,
        critical=critical,
        first_response_hours=hours,
        resolved=resolved,
        text=text,
    )


def _field_name(raw: str) -> str:
    return _KEY_SEPARATORS.sub("_", raw.strip().lower()).strip("_")


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _string(raw: Any, expected: str = "a string") -> str:
    if not isinstance(raw, str):
        raise _Bad(f"expected {expected}, got {json_kind(raw)}")
    return raw.strip()


def _id(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return _string(raw, "a string or a whole number")


def _time(raw: Any) -> datetime:
    text = _string(raw, "an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{text!r} is not an ISO 8601 date-time (e.g. 2026-03-02T09:30:00Z)") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Bad(f"{text!r} has no time zone: add Z or an offset (e.g. +01:00)")
    return parsed.astimezone(UTC)


def _choice(raw: Any, allowed: Sequence[str]) -> str:
    text = _string(raw).lower()
    if text not in allowed:
        raise _Bad(f"{raw.strip()!r} is not one of {' | '.join(allowed)}")
    return text


def _category(raw: Any) -> str:
    text = _string(raw)
    name = _NOT_WORD.sub("-", text.lower()).strip("-")
    if not name:
        raise _Bad(f"{text!r} has no letters or digits")
    return name


def _sentiment(raw: Any) -> str:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw in (-1, 0, 1):
        return _SENTIMENT_WORDS[str(int(raw))]
    text = _string(raw, "a string or -1, 0, 1")
    if text.lower() not in _SENTIMENT_WORDS:
        raise _Bad(f"{text!r} is not one of positive | neutral | negative | +1 | 0 | -1")
    return _SENTIMENT_WORDS[text.lower()]


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = _string(raw, "true or false")
    if text.lower() not in _BOOLEANS:
        raise _Bad(f"{text!r} is not true/false, yes/no or 1/0")
    return _BOOLEANS[text.lower()]


def _hours(raw: Any) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
        shown = repr(raw)
    else:
        text = _string(raw, "a number of hours")
        shown = repr(text)
        try:
            value = float(text)
        except ValueError:
            raise _Bad(f"{shown} is not a number of hours (e.g. 1.5)") from None
    if not math.isfinite(value):
        raise _Bad(f"{shown} is not a number of hours (e.g. 1.5)")
    if value < 0:
        raise _Bad(f"{shown} is negative; hours to first response must be >= 0")
    return value


def _text(raw: Any) -> str:
    return _string(raw)


# -- summary ----------------------------------------------------------------------------------


def summarize(items: Sequence[FeedbackItem], since: datetime, until: datetime) -> FeedbackSummary:
    """The figures for the hypercare report over the items created in [since, until); see
    FeedbackSummary. `since` and `until` must be timezone-aware (ValueError otherwise)."""
    for name, when in (("since", since), ("until", until)):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"summarize: {name} must be timezone-aware")
    window = [i for i in items if since <= i.created < until]

    categories = Counter(i.category for i in window)
    by_category = dict(sorted(categories.items(), key=lambda kv: (-kv[1], kv[0])))

    rated = [i for i in window if i.sentiment is not None]
    pct: float | None = None
    label: str | None = None
    if rated:
        positive = sum(1 for i in rated if i.sentiment == "positive")
        pct = positive * 100 / len(rated)
        label = "POSITIVE" if pct >= 70 else "NEUTRAL" if pct >= 40 else "NEGATIVE"

    issues = Counter(i.category for i in window if i.kind == "ticket" or i.sentiment == "negative")
    top_issues = [name for name, _ in sorted(issues.items(), key=lambda kv: (-kv[1], kv[0]))]

    praises: list[str] = []
    newest_first = sorted(
        (i for i in window if i.sentiment == "positive"), key=lambda i: i.created, reverse=True
    )
    for item in newest_first:
        text = _SPACES.sub(" ", item.text).strip()
        if len(text) > PRAISE_LIMIT:
            text = text[: PRAISE_LIMIT - 1].rstrip() + "\u2026"
        if text and text not in praises:
            praises.append(text)
        if len(praises) == TOP:
            break

    hours = [i.first_response_hours for i in window if i.first_response_hours is not None]
    return FeedbackSummary(
        tickets=sum(1 for i in window if i.kind == "ticket"),
        feedback=sum(1 for i in window if i.kind == "feedback"),
        by_category=by_category,
        critical_open=sum(
            1 for i in items if i.critical and i.status == "open" and i.created < until
        ),
        sentiment_positive_pct=pct,
        sentiment_label=label,
        top_issues=top_issues[:TOP],
        top_praises=praises,
        avg_first_response_hours=sum(hours) / len(hours) if hours else None,
    )
