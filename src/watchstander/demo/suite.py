"""The demo service's regression suite: `python -m watchstander.demo.suite --url URL
--junit FILE`.

A handful of black-box tests against one environment, written as JUnit XML in the shape
pytest writes (so the regression gate reads it like any CI result). Exit 0 when every
test passes, 1 otherwise. The "place an order" tests are marked P0 (critical).
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

__all__ = ["main", "TESTS"]

REQUESTS = 20  # per load-shaped test
P95_BUDGET_MS = 100.0


@dataclass
class Outcome:
    name: str
    classname: str
    seconds: float
    failure: str | None
    priority: str | None


def _health(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200, f"/health answered {r.status_code}"


def _version(client: httpx.Client) -> None:
    r = client.get("/version")
    assert r.status_code == 200, f"/version answered {r.status_code}"
    assert "version" in r.json(), "/version has no version field"


def _order_latency(client: httpx.Client) -> None:
    took: list[float] = []
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        client.get("/work")
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    p95 = took[int(0.95 * (len(took) - 1))]
    assert p95 < P95_BUDGET_MS, (
        f"p95 of {REQUESTS} orders is {p95:.0f} ms (budget {P95_BUDGET_MS:g} ms)"
    )


def _order_errors(client: httpx.Client) -> None:
    statuses = [client.get("/work").status_code for _ in range(REQUESTS)]
    bad = [s for s in statuses if s >= 500]
    assert not bad, f"{len(bad)} of {REQUESTS} orders failed with HTTP 5xx"


def _home(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.json().get("ok") is True, f"/ answered {r.status_code}"


TESTS: tuple[tuple[str, str, Callable[[httpx.Client], None], str | None], ...] = (
    ("tests.test_service.TestPlatform", "test_health", _health, None),
    ("tests.test_service.TestPlatform", "test_version_endpoint", _version, None),
    ("tests.test_service.TestOrders", "test_order_latency_p95", _order_latency, "P0"),
    ("tests.test_service.TestOrders", "test_orders_do_not_fail", _order_errors, "P0"),
    ("tests.test_service.TestHome", "test_home_page", _home, "P1"),
)


def run(url: str) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with httpx.Client(base_url=url, timeout=5.0) as client:
        for classname, name, test, priority in TESTS:
            t0 = time.perf_counter()
            try:
                test(client)
                failure = None
            except AssertionError as exc:
                failure = str(exc) or "assertion failed"
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            outcomes.append(Outcome(name, classname, time.perf_counter() - t0, failure, priority))
    return outcomes


def write_junit(outcomes: list[Outcome], path: Path, *, started: datetime) -> None:
    suites = ET.Element("testsuites")
    failures = sum(1 for o in outcomes if o.failure)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="demo-regression",
        errors="0",
        failures=str(failures),
        skipped="0",
        tests=str(len(outcomes)),
        time=f"{sum(o.seconds for o in outcomes):.3f}",
        timestamp=started.isoformat(timespec="seconds"),
    )
    for o in outcomes:
        case = ET.SubElement(
            suite, "testcase", classname=o.classname, name=o.name, time=f"{o.seconds:.3f}"
        )
        if o.priority:
            props = ET.SubElement(case, "properties")
            ET.SubElement(props, "property", name="priority", value=o.priority)
        if o.failure:
            failure = ET.SubElement(case, "failure", message=o.failure)
            failure.text = o.failure
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ET.ElementTree(suites).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchstander.demo.suite")
    parser.add_argument("--url", required=True)
    parser.add_argument("--junit", required=True, type=Path)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    outcomes = run(args.url)
    write_junit(outcomes, args.junit, started=started)
    for o in outcomes:
        print(
            f"{'PASS' if o.failure is None else 'FAIL'} {o.classname}::{o.name} {o.failure or ''}"
        )
    return 1 if any(o.failure for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
