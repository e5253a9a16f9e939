"""JUnit XML test results: pytest `--junitxml`, Maven Surefire/Failsafe, jest-junit and the
many tools that copy their shape.

The reader accepts a root `<testsuites>` or `<testsuite>`, with suites nested to any depth,
and turns every `<testcase>` into a TestCase:

- id: `classname::name`, or `file::name` when there is no classname, or just `name`;
- status: a `<failure>` child makes it FAILED, else an `<error>` ERROR, else a `<skipped>`
  SKIPPED, else PASSED (Surefire's `<flakyFailure>`/`<rerunFailure>` alone still pass:
  the test passed on a rerun);
- message: the failure's (error's, skip's) `message` attribute, else the first non-blank line
  of its text, at most 500 characters;
- duration: the `time` attribute in seconds ("1,234.5" is read as 1234.5; missing or
  unreadable is 0);
- suite: the name of the innermost enclosing `<testsuite>`;
- critical: the testcase or any enclosing suite has `<property name="priority" value="P0">`
  (or P1) or `<property name="critical" value="true">`, or the id matches one of the
  `critical_patterns` (fnmatch, case-sensitive);
- source: `file:line` of the `<testcase>` start tag.

The run's timestamp is the earliest `timestamp` attribute of any suite (naive times are taken
as UTC); None when no suite has a readable one.

The same test id can appear more than once (reruns, shards, the same report passed twice).
One case is kept per id, in the position it was first seen: the one with the worst status,
ERROR > FAILED > PASSED > SKIPPED (a failure anywhere is never hidden by a pass, and a test
that ran beats one that was skipped); on a tie the first one read wins. The kept case is
critical when any of the duplicates was.

Files are parsed with expat (the parser under xml.etree.ElementTree), which never fetches
external entities; documents that declare entities are refused outright, so "billion laughs"
style expansion cannot happen either. Nothing is written.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from xml.parsers import expat

from watchstander.errors import InputError
from watchstander.gates.models import TestCase, TestRun, TestStatus

__all__ = ["load_junit"]

MESSAGE_LIMIT = 500
_RANK = {TestStatus.SKIPPED: 0, TestStatus.PASSED: 1, TestStatus.FAILED: 2, TestStatus.ERROR: 3}
_CRITICAL_PRIORITIES = {"p0", "p1"}
_ENCODING_DECL = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def load_junit(
    paths: Sequence[Path], *, ref: str = "", critical_patterns: Sequence[str] = ()
) -> TestRun:
    """Read JUnit XML files (a directory stands for every `*.xml` directly in it, sorted)
    into one TestRun. Raises InputError for a missing path, a directory without XML files,
    a file that is not well-formed JUnit XML, a testcase without a name, or no testcases
    at all."""
    if not paths:
        raise InputError("no JUnit XML files given")
    files = _expand(paths)
    cases: dict[str, TestCase] = {}
    timestamps: list[datetime] = []
    for file in files:
        for case in _read_file(file, critical_patterns, timestamps):
            kept = cases.get(case.id)
            if kept is None:
                cases[case.id] = case
                continue
            winner = case if _RANK[case.status] > _RANK[kept.status] else kept
            critical = kept.critical or case.critical
            if winner.critical != critical:
                winner = dataclasses.replace(winner, critical=critical)
            # Reassigning an existing key keeps the first-seen position.
            cases[case.id] = winner
    if not cases:
        names = ", ".join(str(p) for p in paths)
        read = f"{len(files)} file" + ("" if len(files) == 1 else "s")
        raise InputError(f"{names}: no <testcase> elements (read {read})")
    return TestRun(
        sources=tuple(str(f) for f in files),
        cases=tuple(cases.values()),
        timestamp=min(timestamps) if timestamps else None,
        ref=ref,
    )


# -- files ---------------------------------------------------------------------------------


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.xml") if p.is_file())
            if not found:
                raise InputError(f"{path}: no *.xml files in this directory")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file")
    return files


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _check_text(path: Path, data: bytes) -> None:
    """Refuse binary data and invalid UTF-8 with a clearer message than expat's."""
    if not data.strip():
        raise InputError(f"{path}: empty file, not JUnit XML")
    if data.startswith(_UTF16_BOMS):
        return  # UTF-16 with a byte order mark: expat decodes it
    if b"\x00" in data:
        raise InputError(f"{path}: binary data (NUL bytes), not JUnit XML")
    declared = _ENCODING_DECL.match(data)
    encoding = declared.group(1).decode("ascii").lower().replace("_", "-") if declared else ""
    if encoding not in ("", "utf-8", "utf8"):
        return  # another declared encoding: expat decodes it or says it cannot
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{path}:{line}:{col}: not UTF-8 text (byte 0x{byte}); is this a JUnit XML file?"
        ) from None


class _DeclaresEntities(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _parse(path: Path) -> tuple[ET.Element, dict[int, int]]:
    """The document's root element and the start-tag line of every element (by id())."""
    data = _read_bytes(path)
    _check_text(path, data)
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = builder.start(tag, attrs)
        lines[id(element)] = parser.CurrentLineNumber

    def entity_decl(*_: object) -> None:
        raise _DeclaresEntities(parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = entity_decl
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code) if exc.code is not None else str(exc)
        raise InputError(
            f"{path}:{exc.lineno}:{exc.offset + 1}: not well-formed XML ({reason})"
        ) from None
    except _DeclaresEntities as exc:
        raise InputError(
            f"{path}:{exc.line}: XML entity declarations are not allowed in JUnit files"
        ) from None
    return builder.close(), lines


# -- elements ------------------------------------------------------------------------------


def _read_file(
    path: Path, critical_patterns: Sequence[str], timestamps: list[datetime]
) -> list[TestCase]:
    root, lines = _parse(path)
    if root.tag not in ("testsuites", "testsuite"):
        line = lines.get(id(root), 1)
        raise InputError(
            f"{path}:{line}: root element <{root.tag}> is not <testsuites> or <testsuite>"
        )
    cases: list[TestCase] = []

    def walk(element: ET.Element, suite: str, critical: bool) -> None:
        if element.tag == "testsuite":
            suite = element.get("name", "")
            critical = critical or _has_critical_property(element)
            stamp = _timestamp(element.get("timestamp"))
            if stamp is not None:
                timestamps.append(stamp)
        for child in element:
            if child.tag == "testsuite":
                walk(child, suite, critical)
            elif child.tag == "testcase":
                cases.append(_case(path, child, lines, suite, critical, critical_patterns))

    walk(root, root.get("name", "") if root.tag == "testsuites" else "", False)
    return cases


def _case(
    path: Path,
    element: ET.Element,
    lines: dict[int, int],
    suite: str,
    suite_critical: bool,
    critical_patterns: Sequence[str],
) -> TestCase:
    line = lines.get(id(element), 0)
    where = f"{path}:{line}" if line else str(path)
    name = (element.get("name") or "").strip()
    if not name:
        raise InputError(f"{where}: <testcase> without a name attribute")
    classname = (element.get("classname") or "").strip()
    file = (element.get("file") or "").strip()
    test_id = f"{classname}::{name}" if classname else f"{file}::{name}" if file else name

    status = TestStatus.PASSED
    outcome: ET.Element | None = None
    for tag, candidate in (
        ("failure", TestStatus.FAILED),
        ("error", TestStatus.ERROR),
        ("skipped", TestStatus.SKIPPED),
    ):
        outcome = element.find(tag)
        if outcome is not None:
            status = candidate
            break

    critical = (
        suite_critical
        or _has_critical_property(element)
        or any(fnmatch.fnmatchcase(test_id, pattern) for pattern in critical_patterns)
    )
    return TestCase(
        id=test_id,
        status=status,
        message=_message(outcome) if outcome is not None else "",
        duration=_duration(element.get("time")),
        suite=suite,
        critical=critical,
        source=where,
    )


def _has_critical_property(element: ET.Element) -> bool:
    for properties in element.findall("properties"):
        for prop in properties.findall("property"):
            name = (prop.get("name") or "").strip().lower()
            value = prop.get("value")
            if value is None:
                value = prop.text or ""  # Surefire and others also put the value in the text
            value = value.strip().lower()
            if name == "priority" and value in _CRITICAL_PRIORITIES:
                return True
            if name == "critical" and value == "true":
                return True
    return False


def _message(outcome: ET.Element) -> str:
    message = (outcome.get("message") or "").strip()
    if not message:
        text = outcome.text or ""
        message = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return message[:MESSAGE_LIMIT]


def _duration(raw: str | None) -> float:
    if not raw:
        return 0.0
    try:
        value = float(raw.strip().replace(",", ""))
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value >= 0 else 0.0


def _timestamp(raw: str | None) -> datetime | None:
    if not raw or not raw.strip():
        return None
    try:
        stamp = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
