"""The input readers on real files: JUnit XML written by a real pytest run and by hand in the
Surefire and jest-junit shapes, SARIF and JSON findings, checksum files written by
sha256sum, and signatures made by ssh-keygen and GnuPG."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchstander.errors import InputError
from watchstander.gates.models import FindingSeverity, TestStatus
from watchstander.inputs.checksums import verify_checksums
from watchstander.inputs.findings import load_findings
from watchstander.inputs.junit import load_junit
from watchstander.inputs.signatures import verify_gpg_signature, verify_ssh_signature

pytestmark = pytest.mark.integration


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# -- JUnit ---------------------------------------------------------------------------------

FIXTURE_SUITE = """
import pytest


def test_login():
    assert True


def test_logout():
    assert True


class TestCheckout:
    def test_pays(self, record_property):
        record_property("priority", "P0")
        assert True

    def test_refunds(self):
        assert 1 + 1 == 3, "refund total is off"


@pytest.mark.skip(reason="not on this platform")
def test_exports():
    pass
"""


@pytest.fixture(scope="module")
def pytest_junit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JUnit XML from actually running pytest on a five-test suite."""
    root = tmp_path_factory.mktemp("pytest-run")
    write(root / "suite" / "test_shop.py", FIXTURE_SUITE)
    # An empty ini of its own: the child must not pick up this repo's pytest settings.
    write(root / "pytest.ini", "[pytest]\n")
    out = root / "results.xml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            "-o",
            "addopts=",
            "-o",
            "junit_family=legacy",
            "--junitxml",
            str(out),
            "suite",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # 1: tests ran, some failed
    assert out.is_file()
    return out


def test_pytest_junit_from_a_real_run(pytest_junit: Path) -> None:
    run = load_junit([pytest_junit], ref="candidate")

    assert run.ref == "candidate"
    assert run.sources == (str(pytest_junit),)
    assert (run.total, run.passed, run.failed) == (5, 3, 1)
    by_id = {case.id: case for case in run.cases}
    assert set(by_id) == {
        "suite.test_shop::test_login",
        "suite.test_shop::test_logout",
        "suite.test_shop.TestCheckout::test_pays",
        "suite.test_shop.TestCheckout::test_refunds",
        "suite.test_shop::test_exports",
    }
    refund = by_id["suite.test_shop.TestCheckout::test_refunds"]
    assert refund.status is TestStatus.FAILED
    assert "refund total is off" in refund.message
    assert by_id["suite.test_shop::test_exports"].status is TestStatus.SKIPPED
    assert by_id["suite.test_shop::test_exports"].message == "not on this platform"
    assert [c.id for c in run.cases if c.critical] == ["suite.test_shop.TestCheckout::test_pays"]
    assert all(c.suite == "pytest" for c in run.cases)
    assert all(c.source.startswith(f"{pytest_junit}:") for c in run.cases)
    assert all(c.duration >= 0 for c in run.cases)
    assert run.timestamp is not None and run.timestamp.tzinfo is not None
    assert abs((datetime.now(UTC) - run.timestamp).total_seconds()) < 3600


def test_critical_patterns_mark_matching_ids(pytest_junit: Path) -> None:
    run = load_junit([pytest_junit], critical_patterns=["*::test_log*"])

    assert sorted(c.id for c in run.cases if c.critical) == [
        "suite.test_shop.TestCheckout::test_pays",
        "suite.test_shop::test_login",
        "suite.test_shop::test_logout",
    ]


SUREFIRE = """
<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="3.0" name="com.example.CalculatorTest" time="1,234.5" tests="5" errors="1" skipped="1" failures="1" timestamp="2026-11-21T10:15:00">
  <properties>
    <property name="java.version" value="21.0.2"/>
    <property name="critical" value="false"/>
  </properties>
  <testcase name="adds" classname="com.example.CalculatorTest" time="0.012"/>
  <testcase name="divides" classname="com.example.CalculatorTest" time="1,234.5">
    <properties>
      <property name="priority" value="P1"/>
    </properties>
    <failure message="expected: &lt;2&gt; but was: &lt;3&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <2> but was: <3>
	at com.example.CalculatorTest.divides(CalculatorTest.java:31)
]]></failure>
    <system-out><![CDATA[dividing 6 by 3]]></system-out>
  </testcase>
  <testcase name="connects" classname="com.example.CalculatorTest" time="0.5">
    <error type="java.net.ConnectException"><![CDATA[
java.net.ConnectException: Connection refused
	at java.base/sun.nio.ch.Net.connect0(Native Method)
]]></error>
  </testcase>
  <testcase name="legacyMode" classname="com.example.CalculatorTest" time="0">
    <skipped message="@Disabled: slated for removal"/>
  </testcase>
  <testcase name="retries" classname="com.example.CalculatorTest">
    <flakyFailure message="timed out" type="java.util.concurrent.TimeoutException"/>
  </testcase>
</testsuite>
"""


def test_surefire_report(tmp_path: Path) -> None:
    path = write(tmp_path / "TEST-com.example.CalculatorTest.xml", SUREFIRE)

    run = load_junit([path])

    cases = {c.id.removeprefix("com.example.CalculatorTest::"): c for c in run.cases}
    assert list(cases) == ["adds", "divides", "connects", "legacyMode", "retries"]
    assert [c.status for c in cases.values()] == [
        TestStatus.PASSED,
        TestStatus.FAILED,
        TestStatus.ERROR,
        TestStatus.SKIPPED,
        TestStatus.PASSED,  # a flaky failure passed on a rerun
    ]
    assert cases["divides"].message == "expected: <2> but was: <3>"
    assert cases["connects"].message == "java.net.ConnectException: Connection refused"
    assert cases["legacyMode"].message == "@Disabled: slated for removal"
    assert cases["divides"].duration == 1234.5
    assert cases["retries"].duration == 0.0
    assert [c.critical for c in cases.values()] == [False, True, False, False, False]
    assert all(c.suite == "com.example.CalculatorTest" for c in cases.values())
    assert cases["adds"].source == f"{path}:7"
    assert cases["connects"].source == f"{path}:17"
    assert run.timestamp == datetime(2026, 11, 21, 10, 15, tzinfo=UTC)
    assert (run.total, run.passed, run.failed) == (5, 2, 2)


JEST = """
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="4" failures="1" errors="0" time="1.873">
  <testsuite name="Calculator" errors="0" failures="1" skipped="1" timestamp="2026-11-21T09:00:01" time="1.2" tests="3">
    <testcase classname="Calculator adds numbers" name="Calculator adds numbers" time="0.004">
    </testcase>
    <testcase classname="Calculator throws on division by zero" name="Calculator throws on division by zero" time="0.012">
      <failure>Error: expect(received).toThrow()

Received function did not throw
    at Object.toThrow (/app/src/calculator.test.js:14:30)</failure>
    </testcase>
    <testcase classname="Calculator formats currency" name="Calculator formats currency" time="0">
      <skipped/>
    </testcase>
  </testsuite>
  <testsuite name="api" errors="0" failures="0" skipped="0" timestamp="2026-11-21T08:59:58.250Z" time="0.6" tests="1">
    <testcase name="GET /health returns 200" file="src/api.test.js" time="0.2">
      <properties><property name="priority" value="p0"/></properties>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_jest_junit_report(tmp_path: Path) -> None:
    path = write(tmp_path / "junit.xml", JEST)

    run = load_junit([path])

    assert [(c.id, c.status, c.suite) for c in run.cases] == [
        (
            "Calculator adds numbers::Calculator adds numbers",
            TestStatus.PASSED,
            "Calculator",
        ),
        (
            "Calculator throws on division by zero::Calculator throws on division by zero",
            TestStatus.FAILED,
            "Calculator",
        ),
        (
            "Calculator formats currency::Calculator formats currency",
            TestStatus.SKIPPED,
            "Calculator",
        ),
        ("src/api.test.js::GET /health returns 200", TestStatus.PASSED, "api"),
    ]
    assert run.cases[1].message == "Error: expect(received).toThrow()"
    assert [c.critical for c in run.cases] == [False, False, False, True]
    # The earliest suite timestamp, "Z" understood as UTC.
    assert run.timestamp == datetime(2026, 11, 21, 8, 59, 58, 250000, tzinfo=UTC)


def junit(cases: str, *, name: str = "shard", timestamp: str = "") -> str:
    stamp = f' timestamp="{timestamp}"' if timestamp else ""
    return f'<testsuite name="{name}"{stamp}>\n{textwrap.dedent(cases).lstrip()}</testsuite>\n'


def test_directory_of_shards_keeps_the_worst_status_per_id(tmp_path: Path) -> None:
    shards = tmp_path / "reports"
    write(
        shards / "b.xml",
        junit(
            """
            <testcase classname="t.A" name="flaky"><failure message="boom"/></testcase>
            <testcase classname="t.A" name="skipped_once"/>
            <testcase classname="t.A" name="only_in_b"/>
            """,
            name="b",
            timestamp="2026-11-21T12:00:00+02:00",
        ),
    )
    write(
        shards / "a.xml",
        junit(
            """
            <testcase classname="t.A" name="flaky"/>
            <testcase classname="t.A" name="skipped_once"><skipped/></testcase>
            <testcase classname="t.A" name="always_ok"/>
            """,
            name="a",
            timestamp="2026-11-21T11:00:00+00:00",
        ),
    )
    write(shards / "empty.xml", '<testsuites name="nothing here"/>\n')
    write(shards / "notes.txt", "not a report")
    (shards / "nested").mkdir()
    write(shards / "nested" / "c.xml", junit('<testcase name="hidden"/>'))

    run = load_junit([shards])

    assert run.sources == tuple(str(shards / n) for n in ("a.xml", "b.xml", "empty.xml"))
    by_id = {c.id: c for c in run.cases}
    assert list(by_id) == ["t.A::flaky", "t.A::skipped_once", "t.A::always_ok", "t.A::only_in_b"]
    assert by_id["t.A::flaky"].status is TestStatus.FAILED
    assert by_id["t.A::flaky"].message == "boom"
    assert by_id["t.A::flaky"].source == f"{shards / 'b.xml'}:2"
    assert by_id["t.A::skipped_once"].status is TestStatus.PASSED
    assert run.timestamp == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def test_duplicate_keeps_critical_from_either_copy(tmp_path: Path) -> None:
    first = write(
        tmp_path / "1.xml",
        junit(
            '<testcase classname="c" name="n"><properties>'
            '<property name="critical" value="true"/></properties></testcase>'
        ),
    )
    second = write(
        tmp_path / "2.xml", junit('<testcase classname="c" name="n"><error/></testcase>')
    )

    run = load_junit([first, second])

    assert [(c.id, c.status, c.critical) for c in run.cases] == [("c::n", TestStatus.ERROR, True)]


def test_suite_property_makes_its_cases_critical(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.xml",
        """
        <testsuites>
          <testsuite name="payments">
            <properties><property name="priority" value="P0"/></properties>
            <testsuite name="refunds"><testcase classname="r" name="partial"/></testsuite>
          </testsuite>
          <testsuite name="docs"><testcase classname="d" name="links"/></testsuite>
        </testsuites>
        """,
    )

    run = load_junit([path])

    assert [(c.id, c.suite, c.critical) for c in run.cases] == [
        ("r::partial", "refunds", True),
        ("d::links", "docs", False),
    ]


def test_malformed_xml_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "results.xml",
        """
        <testsuite name="s">
          <testcase name="a"/>
          <testcase name="b">
        </testsuite>
        """,
    )

    with pytest.raises(InputError) as raised:
        load_junit([path])

    assert str(raised.value).startswith(f"{path}:4:3: not well-formed XML (mismatched tag)")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('<?xml version="1.0"?>\n<html><body/></html>\n', ":2: root element <html> is not"),
        (
            '<testsuite name="s">\n  <testcase classname="c"/>\n</testsuite>\n',
            ":2: <testcase> without a name",
        ),
        ("", ": empty file"),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n]>\n<testsuite/>\n',
            ":3: XML entity declarations are not allowed",
        ),
    ],
    ids=["wrong-root", "nameless-testcase", "empty", "entity-declaration"],
)
def test_bad_junit_content(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "results.xml"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InputError) as raised:
        load_junit([path])

    message = str(raised.value)
    assert message.startswith(str(path))
    assert message.removeprefix(str(path)).startswith(expected), message


def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary.xml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    latin = tmp_path / "latin.xml"
    latin.write_bytes(b'<testsuite>\n<testcase name="caf\xe9"/>\n</testsuite>\n')

    with pytest.raises(InputError, match=r"binary data") as raised:
        load_junit([binary])
    assert str(raised.value).startswith(f"{binary}: ")
    with pytest.raises(InputError) as raised:
        load_junit([latin])
    assert str(raised.value).startswith(f"{latin}:2:20: not UTF-8 text (byte 0xe9)")


def test_declared_latin1_encoding_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "latin.xml"
    path.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        b'<testsuite name="s"><testcase classname="c" name="caf\xe9"/></testsuite>\n'
    )

    assert [c.id for c in load_junit([path]).cases] == ["c::café"]


def test_missing_paths_empty_directories_and_no_cases(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    write(empty_dir / "readme.txt", "no reports")
    no_cases = write(
        tmp_path / "none.xml", '<testsuites name="x"><testsuite name="y"/></testsuites>'
    )

    with pytest.raises(InputError) as raised:
        load_junit([missing])
    assert str(raised.value) == f"{missing}: no such file"
    with pytest.raises(InputError) as raised:
        load_junit([empty_dir])
    assert str(raised.value).startswith(f"{empty_dir}: no *.xml files")
    with pytest.raises(InputError) as raised:
        load_junit([no_cases])
    assert str(raised.value).startswith(f"{no_cases}: no <testcase> elements")


# -- findings ------------------------------------------------------------------------------


def sarif(results: list[dict[str, object]], rules: list[dict[str, object]]) -> dict[str, object]:
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "CodeQL", "version": "2.19.0", "rules": rules}},
                "results": results,
            }
        ],
    }


def location(uri: str, line: int) -> list[dict[str, object]]:
    return [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line, "startColumn": 5},
            }
        }
    ]


def test_sarif_security_severity(tmp_path: Path) -> None:
    log = sarif(
        rules=[
            {
                "id": "py/sql-injection",
                "shortDescription": {"text": "SQL query built from user-controlled sources"},
                "defaultConfiguration": {"level": "error"},
                "properties": {"security-severity": "9.8", "tags": ["security"]},
            },
            {
                "id": "py/weak-crypto",
                "shortDescription": {"text": "Use of a broken cryptographic algorithm"},
                "defaultConfiguration": {"level": "warning"},
                "properties": {"security-severity": "5.3"},
            },
        ],
        results=[
            {
                "ruleId": "py/sql-injection",
                "ruleIndex": 0,
                "message": {"text": "This query depends on a user-provided value."},
                "locations": location("src/app/db.py", 42),
            },
            {
                "ruleId": "py/weak-crypto",
                "message": {"text": "MD5 is broken."},
                "locations": location("src/app/auth.py", 7),
            },
        ],
    )
    path = tmp_path / "scan.sarif"
    path.write_text(json.dumps(log, indent=2), encoding="utf-8")

    findings = load_findings(path)

    assert [(f.id, f.severity) for f in findings] == [
        ("py/sql-injection", FindingSeverity.CRITICAL),
        ("py/weak-crypto", FindingSeverity.MEDIUM),
    ]
    assert findings[0].title == "This query depends on a user-provided value."
    assert findings[0].location == "src/app/db.py:42"
    assert findings[0].tool == "CodeQL"
    assert findings[0].source == f"{path}: runs[0].results[0]"
    assert findings[1].source == f"{path}: runs[0].results[1]"


def test_sarif_levels_without_security_severity(tmp_path: Path) -> None:
    log = sarif(
        rules=[
            {"id": "B602", "shortDescription": {"text": "subprocess with shell=True"}},
            {"id": "B101", "defaultConfiguration": {"level": "note"}},
        ],
        results=[
            {"ruleId": "B602", "level": "error", "message": {"text": "shell=True"}},
            {"ruleId": "B602", "message": {"text": ""}, "locations": location("a.py", 3)},
            {"ruleId": "B101", "message": {"text": "assert used"}},
            {"ruleId": "B101", "level": "none", "message": {"text": "fyi"}},
            {"ruleId": "B101", "kind": "pass", "message": {"text": "checked, fine"}},
            {
                "ruleId": "B602",
                "level": "error",
                "message": {"text": "suppressed with # nosec"},
                "suppressions": [{"kind": "inSource"}],
            },
            {
                "ruleId": "B602",
                "level": "error",
                "message": {"text": "suppression rejected in review"},
                "suppressions": [{"kind": "external", "status": "rejected"}],
            },
        ],
    )
    path = tmp_path / "bandit.sarif"
    path.write_text(json.dumps(log), encoding="utf-8")

    findings = load_findings(path)

    assert [(f.severity, f.title) for f in findings] == [
        (FindingSeverity.HIGH, "shell=True"),
        (FindingSeverity.MEDIUM, "subprocess with shell=True"),  # no level: "warning"
        (FindingSeverity.LOW, "assert used"),  # the rule's default level
        (FindingSeverity.INFO, "fyi"),
        (FindingSeverity.HIGH, "suppression rejected in review"),
    ]
    assert findings[1].location == "a.py:3"


@pytest.mark.parametrize("wrapped", [False, True], ids=["array", "findings-object"])
def test_plain_json_findings(tmp_path: Path, wrapped: bool) -> None:
    items = [
        {
            "id": "CVE-2026-0001",
            "severity": "CRITICAL",
            "title": "RCE in libfoo",
            "file": "poetry.lock",
            "line": 12,
            "tool": "osv",
        },
        {"rule": "secrets/aws-key", "severity": "Moderate", "message": "AWS key in config"},
        {"title": "TLS 1.0 enabled", "severity": "informational", "location": "nginx.conf:4"},
        {"id": "X1", "severity": "low", "location": {"path": "Dockerfile", "line": "3"}},
    ]
    path = tmp_path / "findings.json"
    path.write_text(json.dumps({"findings": items} if wrapped else items), encoding="utf-8")

    findings = load_findings(path)

    prefix = "findings" if wrapped else ""
    assert [(f.id, f.severity, f.title, f.location, f.tool) for f in findings] == [
        ("CVE-2026-0001", FindingSeverity.CRITICAL, "RCE in libfoo", "poetry.lock:12", "osv"),
        ("secrets/aws-key", FindingSeverity.MEDIUM, "AWS key in config", "", ""),
        ("TLS 1.0 enabled", FindingSeverity.INFO, "TLS 1.0 enabled", "nginx.conf:4", ""),
        ("X1", FindingSeverity.LOW, "X1", "Dockerfile:3", ""),
    ]
    assert findings[2].source == f"{path}: {prefix}[2]"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{\n  "version": "2.1.0",\n  "runs": [\n    {,}\n  ]\n}\n', ":4:6: invalid JSON ("),
        (
            json.dumps({"version": "2.0.0", "runs": []}),
            ": version: '2.0.0' is not supported (only SARIF 2.1.0)",
        ),
        (
            json.dumps(
                {"version": "2.1.0", "runs": [{"results": [{"ruleId": "x"}, {"level": "fatal"}]}]}
            ),
            ": runs[0].results[1].level: 'fatal' is not one of none, note, warning, error",
        ),
        (
            json.dumps({"version": "2.1.0", "runs": [{"results": ["oops"]}]}),
            ": runs[0].results[0]: expected an object, got a string",
        ),
        (
            json.dumps(
                {
                    "version": "2.1.0",
                    "runs": [
                        {
                            "tool": {
                                "driver": {"rules": [{"properties": {"security-severity": "hi"}}]}
                            },
                            "results": [{"ruleIndex": 0}],
                        }
                    ],
                }
            ),
            ": runs[0].tool.driver.rules[0].properties.security-severity: 'hi' is not a score",
        ),
        (
            json.dumps([{"id": "a", "severity": "low"}, {"id": "b", "severity": "urgent"}]),
            ": [1].severity: 'urgent' is not one of critical, high, medium, low, info",
        ),
        (json.dumps([{"severity": "low"}]), ': [0]: needs one of "id", "rule" or "title"'),
        (json.dumps({"findings": [3]}), ": findings[0]: expected an object, got a number"),
        (json.dumps({"vulnerabilities": []}), ": neither SARIF 2.1.0"),
        ("", ": empty file"),
    ],
    ids=[
        "invalid-json",
        "wrong-version",
        "bad-level",
        "result-not-object",
        "bad-security-severity",
        "unknown-severity-word",
        "no-id",
        "finding-not-object",
        "neither-shape",
        "empty",
    ],
)
def test_bad_findings_files(tmp_path: Path, document: str, expected: str) -> None:
    path = tmp_path / "scan.sarif"
    path.write_text(document, encoding="utf-8")

    with pytest.raises(InputError) as raised:
        load_findings(path)

    message = str(raised.value)
    assert message.startswith(str(path))
    assert message.removeprefix(str(path)).startswith(expected), message


def test_missing_findings_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as raised:
        load_findings(tmp_path / "scan.sarif")
    assert str(raised.value) == f"{tmp_path / 'scan.sarif'}: no such file"


# -- checksums -----------------------------------------------------------------------------


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A release directory with three artifacts (one in a subdirectory)."""
    root = tmp_path / "release"
    (root / "dist").mkdir(parents=True)
    (root / "app-1.0.tar.gz").write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # > one read
    (root / "app-1.0.whl").write_bytes(b"PK\x03\x04 wheel bytes")
    (root / "dist" / "app.sbom.json").write_text('{"bomFormat": "CycloneDX"}', encoding="utf-8")
    return root


ARTIFACTS = ["app-1.0.tar.gz", "app-1.0.whl", "dist/app.sbom.json"]


def sha256sum(root: Path, *args: str, names: tuple[str, ...] = tuple(ARTIFACTS)) -> str:
    """What coreutils `sha256sum ARGS NAMES` prints, run in root."""
    tool = shutil.which("sha256sum")
    assert tool is not None, "coreutils sha256sum is needed for these tests"
    done = subprocess.run(
        [tool, *args, *names], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.mark.parametrize("style", [(), ("--binary",), ("--tag",)], ids=["gnu", "binary", "bsd"])
def test_checksums_written_by_sha256sum_verify(release: Path, style: tuple[str, ...]) -> None:
    sums = release / "SHA256SUMS"
    sums.write_text("# release 1.0\n\n" + sha256sum(release, *style), encoding="utf-8")

    results = verify_checksums(sums)

    assert [r.path for r in results] == ARTIFACTS
    assert all(r.ok and r.actual == r.expected for r in results)
    assert [r.source for r in results] == [f"{sums}:{n}" for n in (3, 4, 5)]


def test_tampered_and_missing_artifacts_fail(release: Path) -> None:
    sums = release / "SHA256SUMS"
    sums.write_text(sha256sum(release), encoding="utf-8")
    tarball = release / "app-1.0.tar.gz"
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0x01
    tarball.write_bytes(bytes(data))
    (release / "app-1.0.whl").unlink()

    results = {r.path: r for r in verify_checksums(sums)}

    tampered = results["app-1.0.tar.gz"]
    assert not tampered.ok
    assert tampered.actual is not None and tampered.actual != tampered.expected
    assert results["app-1.0.whl"].actual is None and not results["app-1.0.whl"].ok
    assert results["dist/app.sbom.json"].ok


def test_checksum_file_elsewhere_with_base_dir(release: Path, tmp_path: Path) -> None:
    sums = tmp_path / "checksums" / "SHA256SUMS.txt"
    sums.parent.mkdir()
    sums.write_text(sha256sum(release).replace("\n", "\r\n"), encoding="utf-8")

    assert all(r.ok for r in verify_checksums(sums, base_dir=release))
    assert not any(r.ok for r in verify_checksums(sums))  # relative to its own directory


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("d41d8cd98f00b204e9800998ecf8427e  app-1.0.whl", ":3: not a sha256 checksum line (a MD5"),
        ("this is not a checksum", ":3: not a sha256 checksum line"),
        (f"{'a' * 64}  /etc/passwd", ":3: absolute path '/etc/passwd' is not allowed"),
        (f"{'a' * 64}  dist/../../secrets.txt", ":3: 'dist/../../secrets.txt' leads outside"),
        (f"SHA256 (../outside) = {'b' * 64}", ":3: '../outside' leads outside"),
    ],
    ids=["md5", "garbage", "absolute", "dotdot", "bsd-dotdot"],
)
def test_bad_checksum_lines(release: Path, line: str, expected: str) -> None:
    sums = release / "SHA256SUMS"
    good = sha256sum(release).splitlines()
    sums.write_text("\n".join([*good[:2], line, good[2]]) + "\n", encoding="utf-8")

    with pytest.raises(InputError) as raised:
        verify_checksums(sums)

    message = str(raised.value)
    assert message.startswith(f"{sums}{expected}"), message


def test_escaped_gnu_names(release: Path) -> None:
    odd = release / "back\\slash.txt"
    odd.write_bytes(b"odd name")
    sums = release / "SHA256SUMS"
    sums.write_text(sha256sum(release) + sha256sum(release, names=(odd.name,)), encoding="utf-8")

    results = verify_checksums(sums)

    assert sums.read_text(encoding="utf-8").splitlines()[-1].startswith("\\")
    assert results[-1].path == "back\\slash.txt" and results[-1].ok


def test_single_space_and_openssl_spellings(release: Path) -> None:
    tar, whl, sbom = (hashlib.sha256((release / n).read_bytes()).hexdigest() for n in ARTIFACTS)
    sums = release / "checksums.txt"
    lines = [
        f"{tar} {ARTIFACTS[0]}",
        f"SHA2-256({ARTIFACTS[1]})= {whl}",
        f"SHA256({ARTIFACTS[2]})= {sbom.upper()}",
    ]
    sums.write_text("\n".join(lines), encoding="utf-8")

    results = verify_checksums(sums)

    assert [(r.path, r.ok) for r in results] == [(name, True) for name in ARTIFACTS]
    assert results[2].expected == sbom


def test_empty_and_missing_checksum_files(tmp_path: Path) -> None:
    empty = tmp_path / "SHA256SUMS"
    empty.write_text("# nothing yet\n\n", encoding="utf-8")

    with pytest.raises(InputError) as raised:
        verify_checksums(empty)
    assert str(raised.value) == f"{empty}: no checksum entries"
    with pytest.raises(InputError) as raised:
        verify_checksums(tmp_path / "missing")
    assert str(raised.value) == f"{tmp_path / 'missing'}: no such file"


# -- signatures ----------------------------------------------------------------------------


def run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stderr}"


@pytest.fixture
def ssh_signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(artifact, signature, allowed_signers) made by ssh-keygen."""
    artifact = tmp_path / "app-1.0.tar.gz"
    artifact.write_bytes(os.urandom(4096))
    run("ssh-keygen", "-t", "ed25519", "-N", "", "-C", "", "-f", "key", "-q", cwd=tmp_path)
    run("ssh-keygen", "-Y", "sign", "-f", "key", "-n", "file", artifact.name, cwd=tmp_path)
    public = (tmp_path / "key.pub").read_text(encoding="utf-8").split()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"dev@example.invalid {public[0]} {public[1]}\n", encoding="utf-8")
    return artifact, tmp_path / "app-1.0.tar.gz.sig", allowed


def test_ssh_signature_verifies(ssh_signed: tuple[Path, Path, Path]) -> None:
    artifact, signature, allowed = ssh_signed

    result = verify_ssh_signature(
        artifact, signature, allowed_signers=allowed, identity="dev@example.invalid"
    )

    assert result.ok, result.detail
    assert result.tool == "ssh"
    assert result.detail.startswith('Good "file" signature for dev@example.invalid')
    assert (result.artifact, result.signature) == (str(artifact), str(signature))


def test_ssh_signature_rejects_tampering_identity_and_namespace(
    ssh_signed: tuple[Path, Path, Path],
) -> None:
    artifact, signature, allowed = ssh_signed

    wrong_identity = verify_ssh_signature(
        artifact, signature, allowed_signers=allowed, identity="mallory@example.invalid"
    )
    wrong_namespace = verify_ssh_signature(
        artifact,
        signature,
        allowed_signers=allowed,
        identity="dev@example.invalid",
        namespace="git",
    )
    artifact.write_bytes(artifact.read_bytes() + b"\n")
    tampered = verify_ssh_signature(
        artifact, signature, allowed_signers=allowed, identity="dev@example.invalid"
    )

    assert not wrong_identity.ok and wrong_identity.detail
    assert not wrong_namespace.ok
    assert not tampered.ok
    assert "incorrect signature" in tampered.detail


def test_ssh_missing_inputs_and_missing_tool(
    ssh_signed: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact, signature, allowed = ssh_signed
    missing = tmp_path / "nope.sig"

    with pytest.raises(InputError) as raised:
        verify_ssh_signature(
            artifact, missing, allowed_signers=allowed, identity="dev@example.invalid"
        )
    assert str(raised.value).startswith(f"{missing}: no such file")
    with pytest.raises(InputError) as raised:
        verify_ssh_signature(artifact, signature, allowed_signers=missing, identity="d@e.invalid")
    assert str(raised.value).startswith(f"{missing}: no such file")

    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    result = verify_ssh_signature(
        artifact, signature, allowed_signers=allowed, identity="dev@example.invalid"
    )
    assert (result.ok, result.detail) == (False, "ssh-keygen not found")


@pytest.fixture
def gnupg(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """(artifact, signature, public keyring) made by gpg in a home inside tmp_path."""
    home = tmp_path / "gh"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ("gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback")
    try:
        new_key = ("--passphrase", "", "--quick-gen-key", "Test <t@example.invalid>")
        run(*gpg, *new_key, "ed25519", "sign", "never", cwd=tmp_path, env=env)
        keyring = tmp_path / "pub.gpg"
        with keyring.open("wb") as out:
            subprocess.run([*gpg, "--export"], stdout=out, env=env, check=True, timeout=60)
        artifact = tmp_path / "art"
        artifact.write_bytes(b"release 1.0\n" * 1000)
        run(*gpg, "--yes", "--detach-sign", "-o", "art.sig", "art", cwd=tmp_path, env=env)
        yield artifact, tmp_path / "art.sig", keyring
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"], env=env, check=False, timeout=60
        )


def test_gpg_signature_verifies_and_rejects_tampering(gnupg: tuple[Path, Path, Path]) -> None:
    artifact, signature, keyring = gnupg
    assert keyring.stat().st_size > 0

    good = verify_gpg_signature(artifact, signature, keyring=keyring)
    artifact.write_bytes(artifact.read_bytes().replace(b"1.0", b"1.1", 1))
    bad = verify_gpg_signature(artifact, signature, keyring=keyring)

    assert good.ok, good.detail
    assert good.tool == "gpg"
    assert "Good signature" in good.detail
    assert not bad.ok
    assert "BAD signature" in bad.detail


def test_gpg_unknown_key_and_missing_keyring(
    gnupg: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    artifact, signature, _ = gnupg
    other = tmp_path / "other.gpg"
    other.write_bytes(b"")

    unknown = verify_gpg_signature(artifact, signature, keyring=other)
    with pytest.raises(InputError) as raised:
        verify_gpg_signature(artifact, signature, keyring=tmp_path / "missing.kbx")

    assert not unknown.ok
    assert "No public key" in unknown.detail
    assert str(raised.value).startswith(f"{tmp_path / 'missing.kbx'}: no such file")
