"""Security findings: SARIF 2.1.0 (CodeQL, Semgrep, Trivy, Bandit, ... ) or a plain JSON list.

SARIF. Each result of each run becomes a Finding:

- id: the result's `ruleId`, else `rule.id`, else the id of the rule it points at;
- severity: a `security-severity` property (a CVSS-like score, on the result or else on its
  rule) maps like GitHub code scanning does: >= 9.0 critical, >= 7.0 high, >= 4.0 medium,
  > 0 low, 0 info. Without one, the `level` (the result's, else the rule's
  `defaultConfiguration.level`, else "warning") maps error -> high, warning -> medium,
  note -> low, none -> info;
- title: the result's `message.text`, else the rule's short (or full) description, else the id;
- location: the first physical location as `uri:startLine` (just `uri` without a region);
- tool: the run's `tool.driver.name`; source: `file: runs[i].results[j]`.

Rules are found by `ruleIndex` (or `rule.index`, in `tool.extensions[k]` when the result names
`rule.toolComponent.index`), else by id. Results that are not findings are left out: `kind`
"pass" or "notApplicable", and results suppressed in source or accepted in review
(a `suppressions` entry whose status is absent or "accepted"; "underReview" and "rejected"
ones still count).

Plain JSON. An array of objects, or `{"findings": [...]}`. Each needs `severity` (critical,
high, medium, low or info, any case; "moderate" is medium and "informational" info) and one of
`id`, `rule` or `title`. Optional: `title` or `message`, `location` (a string, or an object
with `file`/`path` and `line`) or `file` and `line`, and `tool`.

Every malformed piece raises InputError naming the file and the JSON path of the field
(`scan.sarif: runs[0].results[3].level: 'fatal' is not one of none, note, warning, error`).
Nothing is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from watchstander.errors import InputError
from watchstander.gates.models import Finding, FindingSeverity
from watchstander.inputs.jsonshape import kind, reject_constant

__all__ = ["load_findings"]

SARIF_VERSION = "2.1.0"
LEVELS = {
    "none": FindingSeverity.INFO,
    "note": FindingSeverity.LOW,
    "warning": FindingSeverity.MEDIUM,
    "error": FindingSeverity.HIGH,
}
SEVERITY_WORDS = {
    **{s.value: s for s in FindingSeverity},
    "moderate": FindingSeverity.MEDIUM,
    "informational": FindingSeverity.INFO,
}
_NOT_FINDINGS = {"pass", "notApplicable"}


def load_findings(path: Path) -> list[Finding]:
    """Read a SARIF 2.1.0 log or a plain JSON findings list. Raises InputError for a
    missing or unreadable file, invalid JSON, another SARIF version, any malformed field,
    or JSON that is neither shape."""
    document = _load_json(path)
    if isinstance(document, dict) and (
        "runs" in document or "sarif" in str(document.get("$schema", "")).lower()
    ):
        return _Sarif(path).read(document)
    if isinstance(document, dict) and "findings" in document:
        items = document["findings"]
        if not isinstance(items, list):
            raise InputError(f"{path}: findings: expected an array, got {kind(items)}")
        return _read_plain(path, items, "findings")
    if isinstance(document, list):
        return _read_plain(path, document, "")
    raise InputError(
        f'{path}: neither SARIF 2.1.0 (an object with "version" and "runs") nor a findings '
        f'list (an array of objects, or {{"findings": [...]}}); got {kind(document)}'
    )


def _load_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a findings file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise InputError(f"{path}: empty file, not JSON")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise InputError(f"{path}:{line}:{col}: not UTF-8 text (byte 0x{byte}), not JSON") from None
    try:
        return json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: invalid JSON (nested too deeply)") from None


def _join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


# -- SARIF ---------------------------------------------------------------------------------


class _Sarif:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> InputError:
        return InputError(f"{self.path}: {where}: {problem}")

    def obj(self, value: Any, where: str, *, optional: bool = False) -> dict[str, Any]:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {kind(value)}")
        return value

    def array(self, value: Any, where: str, *, optional: bool = False) -> list[Any]:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected an array, got {kind(value)}")
        return value

    def string(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {kind(value)}")
        return value

    def read(self, log: dict[str, Any]) -> list[Finding]:
        version = log.get("version")
        if version != SARIF_VERSION:
            if version is None:
                raise self.fail("version", f"missing; expected {SARIF_VERSION!r}")
            raise self.fail("version", f"{version!r} is not supported (only SARIF {SARIF_VERSION})")
        findings: list[Finding] = []
        for i, run in enumerate(self.array(log.get("runs"), "runs")):
            findings.extend(self.run(self.obj(run, f"runs[{i}]"), f"runs[{i}]"))
        return findings

    def run(self, run: dict[str, Any], where: str) -> list[Finding]:
        tool = self.obj(run.get("tool"), f"{where}.tool", optional=True)
        driver = self.obj(tool.get("driver"), f"{where}.tool.driver", optional=True)
        tool_name = self.string(driver.get("name"), f"{where}.tool.driver.name")
        components = [(f"{where}.tool.driver", driver)]
        extensions = self.array(tool.get("extensions"), f"{where}.tool.extensions", optional=True)
        for k, extension in enumerate(extensions):
            at = f"{where}.tool.extensions[{k}]"
            components.append((at, self.obj(extension, at)))
        # Per component: its rules as (json path, rule); and every rule by id.
        rules: list[list[tuple[str, dict[str, Any]]]] = []
        by_id: dict[str, tuple[str, dict[str, Any]]] = {}
        for at, component in components:
            listed: list[tuple[str, dict[str, Any]]] = []
            for r, rule in enumerate(
                self.array(component.get("rules"), f"{at}.rules", optional=True)
            ):
                rule_at = f"{at}.rules[{r}]"
                entry = (rule_at, self.obj(rule, rule_at))
                listed.append(entry)
                rule_id = entry[1].get("id")
                if isinstance(rule_id, str):
                    by_id.setdefault(rule_id, entry)
            rules.append(listed)

        findings: list[Finding] = []
        results = self.array(run.get("results"), f"{where}.results", optional=True)
        for j, raw in enumerate(results):
            at = f"{where}.results[{j}]"
            result = self.obj(raw, at)
            finding = self.result(result, at, tool_name, rules, by_id)
            if finding is not None:
                findings.append(finding)
        return findings

    def result(
        self,
        result: dict[str, Any],
        where: str,
        tool: str,
        rules: list[list[tuple[str, dict[str, Any]]]],
        by_id: dict[str, tuple[str, dict[str, Any]]],
    ) -> Finding | None:
        kind = self.string(result.get("kind"), f"{where}.kind")
        if kind in _NOT_FINDINGS or self.suppressed(result, where):
            return None
        rule_at, rule = self.find_rule(result, where, rules, by_id)
        rule_ref = self.obj(result.get("rule"), f"{where}.rule", optional=True)
        rule_id = (
            self.string(result.get("ruleId"), f"{where}.ruleId")
            or self.string(rule_ref.get("id"), f"{where}.rule.id")
            or self.string(rule.get("id"), f"{rule_at}.id")
        )

        level_at = f"{where}.level"
        level = result.get("level")
        if level is None:
            config = self.obj(
                rule.get("defaultConfiguration"), f"{rule_at}.defaultConfiguration", optional=True
            )
            level_at = f"{rule_at}.defaultConfiguration.level"
            level = config.get("level", "warning")
        if not isinstance(level, str) or level not in LEVELS:
            raise self.fail(level_at, f"{level!r} is not one of {', '.join(LEVELS)}")
        severity = self.security_severity(result, where) or self.security_severity(rule, rule_at)
        if severity is None:
            severity = LEVELS[level]

        message = self.obj(result.get("message"), f"{where}.message", optional=True)
        title = self.string(message.get("text"), f"{where}.message.text").strip()
        for field in ("shortDescription", "fullDescription"):
            if title:
                break
            described = self.obj(rule.get(field), f"{rule_at}.{field}", optional=True)
            title = self.string(described.get("text"), f"{rule_at}.{field}.text").strip()
        return Finding(
            id=rule_id,
            severity=severity,
            title=title or rule_id,
            location=self.location(result, where),
            tool=tool,
            source=f"{self.path}: {where}",
        )

    def suppressed(self, result: dict[str, Any], where: str) -> bool:
        suppressions = self.array(
            result.get("suppressions"), f"{where}.suppressions", optional=True
        )
        for s, raw in enumerate(suppressions):
            at = f"{where}.suppressions[{s}]"
            status = self.string(self.obj(raw, at).get("status"), f"{at}.status")
            if status in ("", "accepted"):
                return True
        return False

    def find_rule(
        self,
        result: dict[str, Any],
        where: str,
        rules: list[list[tuple[str, dict[str, Any]]]],
        by_id: dict[str, tuple[str, dict[str, Any]]],
    ) -> tuple[str, dict[str, Any]]:
        rule_ref = self.obj(result.get("rule"), f"{where}.rule", optional=True)
        index = result.get("ruleIndex", rule_ref.get("index"))
        component = 0
        tool_ref = self.obj(
            rule_ref.get("toolComponent"), f"{where}.rule.toolComponent", optional=True
        )
        if isinstance(tool_ref.get("index"), int) and not isinstance(tool_ref["index"], bool):
            component = tool_ref["index"] + 1  # extensions follow the driver
        if (
            isinstance(index, int)
            and not isinstance(index, bool)
            and 0 <= component < len(rules)
            and 0 <= index < len(rules[component])
        ):
            return rules[component][index]
        rule_id = result.get("ruleId", rule_ref.get("id"))
        if isinstance(rule_id, str):
            if rule_id in by_id:
                return by_id[rule_id]
            # Hierarchical ids ("CA2000/1") name a rule by their first component.
            base = rule_id.split("/", 1)[0]
            if base in by_id:
                return by_id[base]
        return f"{where}.rule", {}

    def security_severity(self, holder: Mapping[str, Any], where: str) -> FindingSeverity | None:
        properties = self.obj(holder.get("properties"), f"{where}.properties", optional=True)
        raw = properties.get("security-severity")
        if raw is None or raw == "":
            return None
        at = f"{where}.properties.security-severity"
        score: float | None = None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            score = float(raw)
        elif isinstance(raw, str):
            try:
                score = float(raw.strip())
            except ValueError:
                score = None
        if score is None or not math.isfinite(score) or not 0 <= score <= 10:
            raise self.fail(at, f"{raw!r} is not a score between 0 and 10")
        if score >= 9.0:
            return FindingSeverity.CRITICAL
        if score >= 7.0:
            return FindingSeverity.HIGH
        if score >= 4.0:
            return FindingSeverity.MEDIUM
        if score > 0:
            return FindingSeverity.LOW
        return FindingSeverity.INFO

    def location(self, result: dict[str, Any], where: str) -> str:
        locations = self.array(result.get("locations"), f"{where}.locations", optional=True)
        for n, raw in enumerate(locations):
            at = f"{where}.locations[{n}]"
            physical = self.obj(
                self.obj(raw, at).get("physicalLocation"), f"{at}.physicalLocation", optional=True
            )
            artifact = self.obj(
                physical.get("artifactLocation"),
                f"{at}.physicalLocation.artifactLocation",
                optional=True,
            )
            uri = self.string(artifact.get("uri"), f"{at}.physicalLocation.artifactLocation.uri")
            if not uri:
                continue
            if uri.startswith("file:"):
                uri = unquote(urlsplit(uri).path)
            region = self.obj(
                physical.get("region"), f"{at}.physicalLocation.region", optional=True
            )
            line = region.get("startLine")
            if isinstance(line, int) and not isinstance(line, bool) and line > 0:
                return f"{uri}:{line}"
            return uri
        return ""


# -- plain JSON ----------------------------------------------------------------------------


def _read_plain(path: Path, items: list[Any], where: str) -> list[Finding]:
    findings: list[Finding] = []
    for n, item in enumerate(items):
        at = _join(where, n)
        if not isinstance(item, dict):
            raise InputError(f"{path}: {at}: expected an object, got {kind(item)}")
        findings.append(_plain_finding(path, item, at))
    return findings


def _plain_finding(path: Path, item: dict[str, Any], where: str) -> Finding:
    def text(key: str) -> str:
        value = item.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InputError(f"{path}: {_join(where, key)}: expected a string, got {kind(value)}")
        return str(value).strip()

    if "severity" not in item:
        raise InputError(f'{path}: {where}: no "severity"')
    word = item["severity"]
    severity = SEVERITY_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
    if severity is None:
        allowed = ", ".join(s.value for s in FindingSeverity)
        raise InputError(f"{path}: {_join(where, 'severity')}: {word!r} is not one of {allowed}")

    finding_id = text("id") or text("rule")
    title = text("title") or text("message")
    if not finding_id and not text("title"):
        raise InputError(f'{path}: {where}: needs one of "id", "rule" or "title"')
    location = item.get("location")
    if isinstance(location, dict):
        where_file = _join(where, "location")
        file, line = location.get("file", location.get("path")), location.get("line")
    elif location is None:
        where_file = where
        file, line = item.get("file", item.get("path")), item.get("line")
    else:
        where_file, file, line = where, text("location"), None
    return Finding(
        id=finding_id or title,
        severity=severity,
        title=title or finding_id,
        location=_plain_location(path, where_file, file, line),
        tool=text("tool"),
        source=f"{path}: {where}",
    )


def _plain_location(path: Path, where: str, file: Any, line: Any) -> str:
    if file is None or file == "":
        return ""
    if not isinstance(file, str):
        raise InputError(f"{path}: {_join(where, 'file')}: expected a string, got {kind(file)}")
    if line is None or line == "":
        return file
    if isinstance(line, bool) or not isinstance(line, int | str) or not str(line).strip().isdigit():
        raise InputError(f"{path}: {_join(where, 'line')}: {line!r} is not a line number")
    return f"{file}:{int(line)}"
