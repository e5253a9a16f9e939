"""Import OpenSLO v1 documents (handbook 4.4) as SloDefinitions.

`parse_openslo(text, source)` reads a YAML stream of `apiVersion: openslo/v1` documents.
It reads no files: the caller hands it the text and names it (`source`) for messages.

What is read:

* ``kind: SLO``: `metadata.name` (the SLO's name), `metadata.displayName` (the
  description when `spec.description` is absent), `metadata.labels` (string values; the
  SLI's labels too, the SLO's winning), `spec.service` (required unless `default_service`
  is given), `spec.indicator` (an inline SLI) or `spec.indicatorRef` (the name of a
  ``kind: SLI`` document in the same stream), `spec.timeWindow` (exactly one:
  ``{duration: 28d, isRolling: true}`` or ``{duration: 1M, calendar: {startTime,
  timeZone}}`` for a calendar day, week or month),
  `spec.budgetingMethod` (Occurrences or Timeslices) and exactly one of `spec.objectives`
  (`target` in (0, 1) or `targetPercent` in (0, 100), `op`/`value` for a threshold SLI,
  `timeSliceTarget`).
* ``kind: SLI``: `ratioMetric` with `good` + `total` or `bad` + `total` is an availability
  SLI (budgeted by Occurrences, or by Timeslices with `timeSliceTarget`). When all its
  metric sources are Prometheus (`type: Prometheus`, `spec.query` or `spec.promql`) the
  queries become the SLO's `error_query`/`total_query` for the exported recording rules:
  `bad` as the error query, or ``(<total>) - (<good>)``; a range such as ``[5m]`` is
  replaced with ``[{{.window}}]``. `thresholdMetric` with `op: lte|lt` is a latency SLI
  and with `op: gte|gt` a throughput one; both must be budgeted by Timeslices (a slice is
  good when the measured value is within `value`). The objective's `value` is read in the
  engine's units: **milliseconds** for latency (write 300, not 0.3, for 300 ms even when
  the query measures seconds) and requests/s for throughput.

Latency needs a quantile (the engine judges each slice's p50, p95 or p99): the annotation
``watchstander.dev/quantile: "0.95"`` on the SLO's or the SLI's metadata (the SLO's wins),
else the quantile of a ``histogram_quantile(0.95, ...)`` query, else 0.99 (reported). A
threshold SLI with `lte`/`lt` must look like latency (its names or query say latency,
duration, seconds, a quantile ...) or carry ``watchstander.dev/kind: latency``; anything
else has no watchstander equivalent and is an error.

Problems that make a document mean something watchstander cannot honour are errors: all
of them are raised at once in one InputError, one ``file:line: field: message`` per line,
and nothing is imported. What watchstander reads past is reported, never dropped
silently, in `ImportResult.unsupported` as ``file:line: field: not supported, ignored:
<why>`` (unknown keys, alert policies, other kinds, `timeSliceWindow` ...), and what it
had to assume as ``file:line: field: assumed: <what>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from watchstander.errors import InputError
from watchstander.slo.models import QUANTILE_METRICS, Budgeting, SliKind, SloDefinition, Window

__all__ = [
    "API_VERSION",
    "KIND_ANNOTATION",
    "QUANTILE_ANNOTATION",
    "ImportResult",
    "parse_openslo",
]

API_VERSION = "openslo/v1"
QUANTILE_ANNOTATION = "watchstander.dev/quantile"
KIND_ANNOTATION = "watchstander.dev/kind"
DEFAULT_QUANTILE = 0.99

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_DURATION = re.compile(r"^(\d+)([mhdwMQY])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNIT["w"] = timedelta(weeks=1)
_MONTH = timedelta(days=30)  # a month's nominal length (burn-rate factors scale with it)
_CALENDARS = {"d": "day", "w": "week", "M": "month"}
# A PromQL range selector: [5m], [1h30m] (not a subquery [1h:5m]).
_RANGE = re.compile(r"\[\s*((?:\d+(?:ms|[smhdwy]))+)\s*\]")
_WINDOW_VAR = re.compile(r"\{\{\s*\.window\s*\}\}")
_HISTOGRAM_QUANTILE = re.compile(r"histogram_quantile\s*\(\s*([0-9.]+)\s*,")
_LATENCY_HINTS = (
    "latency",
    "duration",
    "response_time",
    "response-time",
    "responsetime",
    "_seconds",
    "_milliseconds",
    "_ms",
    "histogram_quantile",
    "quantile",
    "percentile",
    "p50",
    "p95",
    "p99",
)
_OPS = ("lte", "lt", "gte", "gt")
_IGNORED_KINDS = {
    "DataSource": "watchstander measures SLIs through its own metric sources (a DataSource"
    " is read only for the type a metricSourceRef points to)",
    "Service": "an SLO's spec.service names its service; watchstander keeps nothing else"
    " from a Service",
    "AlertPolicy": "watchstander uses its multiwindow burn-rate alerts (handbook 4.1)",
    "AlertCondition": "watchstander uses its multiwindow burn-rate alerts (handbook 4.1)",
    "AlertNotificationTarget": "watchstander notifies through its own configured channels",
}
_ALERTS_WHY = "watchstander uses its multiwindow burn-rate alerts (handbook 4.1)"


@dataclass(frozen=True)
class ImportResult:
    """The SLOs of an OpenSLO stream, in document order, and what was read past or
    assumed (`file:line: field: not supported, ignored: why` / `...: assumed: what`),
    ordered by line."""

    slos: tuple[SloDefinition, ...]
    unsupported: tuple[str, ...] = ()


def parse_openslo(text: str, source: str, *, default_service: str | None = None) -> ImportResult:
    """The SLOs in an OpenSLO v1 YAML stream; `source` names it in messages and becomes
    each SloDefinition's `source`. `default_service` is the service of an SLO without
    `spec.service`. InputError (every problem, `file:line: field: message`) when the text
    is not YAML or any document is invalid; nothing is returned then."""
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    nodes = [d for d in docs if not (isinstance(d, yaml.ScalarNode) and d.tag == _NULL)]
    if not nodes:
        raise InputError(f"{source}: the file is empty (no OpenSLO documents)")
    return _Reader(source, default_service).read(nodes)


# -- internals ---------------------------------------------------------------------------


@dataclass
class _Meta:
    name: str | None
    display_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, tuple[str, yaml.Node]] = field(default_factory=dict)


@dataclass
class _Source:
    """One metricSource: its type (None: unknown) and Prometheus query, if any."""

    type: str | None
    query: str | None
    node: yaml.Node
    field: str


@dataclass
class _Sli:
    meta: _Meta
    node: yaml.Node
    field: str  # "" for an SLI document, "spec.indicator" inline
    description: str = ""
    ratio: bool = True
    error_query: str | None = None
    total_query: str | None = None
    threshold_source: _Source | None = None


@dataclass
class _Objective:
    node: yaml.Node
    field: str
    target: float
    op: tuple[str, yaml.Node] | None = None
    value: tuple[float, yaml.Node] | None = None
    timeslice_target: tuple[float, yaml.Node] | None = None
    display_name: str = ""


_Keys = dict[str, tuple[yaml.Node, yaml.Node]]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Reader:
    """Walks the composed node trees, so every value keeps its line."""

    def __init__(self, source: str, default_service: str | None) -> None:
        self.source = source
        self.default_service = default_service
        self.errors: list[tuple[int, str]] = []
        self.notes: list[tuple[int, str]] = []
        self.data_sources: dict[str, str | None] = {}  # DataSource name -> its type
        self.slis: dict[str, _Sli | None] = {}  # None: the SLI document is invalid
        self.used_slis: set[str] = set()
        self.key_of: dict[int, yaml.Node] = {}  # id(value node) -> its key node

    # reporting

    def _line(self, node: yaml.Node) -> int:
        """A scalar's own line; a mapping's or list's is the line of its key, if it has one
        (the first item of a block collection is on the next line)."""
        if not isinstance(node, yaml.ScalarNode):
            node = self.key_of.get(id(node), node)
        return int(node.start_mark.line) + 1

    def error(self, node: yaml.Node, where: str, message: str) -> None:
        text = f"{self.source}:{self._line(node)}: {where or '(document)'}: {message}"
        if all(t != text for _, t in self.errors):
            self.errors.append((self._line(node), text))

    def _note(self, node: yaml.Node, where: str, message: str) -> None:
        text = f"{self.source}:{self._line(node)}: {where or '(document)'}: {message}"
        if all(t != text for _, t in self.notes):
            self.notes.append((self._line(node), text))

    def ignore(self, node: yaml.Node, where: str, why: str) -> None:
        self._note(node, where, f"not supported, ignored: {why}")

    def assume(self, node: yaml.Node, where: str, what: str) -> None:
        self._note(node, where, f"assumed: {what}")

    # node helpers

    def mapping(
        self,
        node: yaml.Node,
        where: str,
        known: Sequence[str],
        required: Sequence[str] = (),
        unsupported: Mapping[str, str] | None = None,
    ) -> _Keys | None:
        """key -> (key node, value node). Keys in `unsupported` (key -> why) and unknown
        keys are reported and left out; duplicate keys and missing required ones are
        errors."""
        unsupported = unsupported or {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where, f"expected a mapping with {', '.join(known)}")
            return None
        found: _Keys = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.error(key, where, "keys must be plain names")
                continue
            name = str(key.value)
            at = _join(where, name)
            if name in found:
                line = self._line(found[name][0])
                self.error(key, at, f"given twice (first on line {line})")
                continue
            if name in unsupported:
                self.ignore(key, at, unsupported[name])
                continue
            if name not in known:
                self.ignore(key, at, f"not an OpenSLO v1 field here (known: {', '.join(known)})")
                continue
            found[name] = (key, value)
            self.key_of[id(value)] = key
        for name in required:
            if name not in found:
                self.error(node, _join(where, name), "missing")
        return found

    def sequence(self, node: yaml.Node, where: str) -> list[yaml.Node] | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, where, "expected a list")
            return None
        return list(node.value)

    def string(self, node: yaml.Node, where: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL:
            self.error(node, where, "expected a value")
            return None
        text = str(node.value).strip()
        if not text:
            self.error(node, where, "must not be empty")
            return None
        return text

    def number(self, node: yaml.Node, where: str) -> float | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag in (_NULL, _BOOL):
            self.error(node, where, "expected a number")
            return None
        try:
            value = float(str(node.value).strip())
        except ValueError:
            self.error(node, where, f"{node.value!r} is not a number")
            return None
        if not math.isfinite(value):
            self.error(node, where, f"{node.value!r} is not a finite number")
            return None
        return value

    def boolean(self, node: yaml.Node, where: str) -> bool | None:
        text = self.string(node, where)
        if text is None:
            return None
        value = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
        if text.lower() not in value:
            self.error(node, where, f"{text!r} is not true or false")
            return None
        return value[text.lower()]

    # the stream

    def read(self, docs: list[yaml.Node]) -> ImportResult:
        heads: list[tuple[yaml.Node, str, _Keys]] = []
        for doc in docs:
            head = self.head(doc)
            if head is not None:
                heads.append((doc, *head))
        # DataSources first (metricSourceRef), then SLIs (indicatorRef), then SLOs.
        for _doc, kind, keys in heads:
            if kind == "DataSource":
                self.data_source(keys)
        for doc, kind, keys in heads:
            if kind == "SLI":
                self.sli_document(doc, keys)
        slos: list[SloDefinition] = []
        names: dict[str, int] = {}
        for doc, kind, keys in heads:
            if kind != "SLO":
                continue
            slo = self.slo(doc, keys)
            if slo is None:
                continue
            at: yaml.Node = self.name_node(keys) or doc
            if slo.name in names:
                self.error(
                    at,
                    "metadata.name",
                    f"an SLO named {slo.name} is already on line {names[slo.name]}",
                )
                continue
            names[slo.name] = self._line(at)
            slos.append(slo)
        for doc, kind, keys in heads:
            if kind == "SLI":
                sli_name = self.name_node(keys)
                name = str(sli_name.value) if sli_name is not None else ""
                if name and name not in self.used_slis and self.slis.get(name) is not None:
                    self.ignore(doc, "kind", f"SLI {name!r}: no SLO in the file refers to it")
        if not self.errors and not slos and not any(k == "SLO" for _, k, _ in heads):
            kinds = sorted({k for _, k, _ in heads})
            self.error(
                docs[0], "kind", f"no SLO in the file (found only {', '.join(kinds) or 'nothing'})"
            )
        if self.errors:
            errors = sorted(self.errors, key=lambda e: e[0])
            raise InputError("\n".join(text for _, text in errors))
        notes = sorted(self.notes, key=lambda n: n[0])
        return ImportResult(tuple(slos), tuple(text for _, text in notes))

    def name_node(self, keys: _Keys) -> yaml.ScalarNode | None:
        if "metadata" not in keys or not isinstance(keys["metadata"][1], yaml.MappingNode):
            return None
        for key, value in keys["metadata"][1].value:
            if getattr(key, "value", None) == "name" and isinstance(value, yaml.ScalarNode):
                return value
        return None

    def head(self, doc: yaml.Node) -> tuple[str, _Keys] | None:
        """The document's kind and top-level keys, after checking apiVersion and kind."""
        keys = self.mapping(
            doc, "", ("apiVersion", "kind", "metadata", "spec"), required=("apiVersion", "kind")
        )
        if keys is None or "apiVersion" not in keys or "kind" not in keys:
            return None
        api_node = keys["apiVersion"][1]
        api = self.string(api_node, "apiVersion")
        kind = self.string(keys["kind"][1], "kind")
        if api is None or kind is None:
            return None
        if api != API_VERSION:
            if api.lower() == "openslo/v1alpha":
                self.error(
                    api_node,
                    "apiVersion",
                    "openslo/v1alpha is not supported: watchstander reads OpenSLO v1; rewrite"
                    f" the document as apiVersion: {API_VERSION} (v1 moved thresholds into"
                    " objectives and indicators into SLI documents)",
                )
            else:
                self.error(api_node, "apiVersion", f"{api!r} is not supported: use {API_VERSION}")
            return None
        if kind in ("SLO", "SLI"):
            for name in ("metadata", "spec"):
                if name not in keys:
                    self.error(doc, name, f"missing (an {kind} needs metadata and spec)")
            if "metadata" not in keys or "spec" not in keys:
                return None
            return kind, keys
        if kind in _IGNORED_KINDS:
            name_node = self.name_node(keys)
            label = f"{kind} {name_node.value!r}" if name_node is not None else kind
            self.ignore(keys["kind"][1], "kind", f"{label}: {_IGNORED_KINDS[kind]}")
            return kind, keys
        known = ", ".join(("SLO", "SLI", *_IGNORED_KINDS))
        self.error(keys["kind"][1], "kind", f"unknown kind {kind!r} (OpenSLO v1 has {known})")
        return None

    def data_source(self, keys: _Keys) -> None:
        name_node = self.name_node(keys)
        if name_node is None:
            return
        kind: str | None = None
        spec = keys.get("spec")
        if spec is not None and isinstance(spec[1], yaml.MappingNode):
            for key, value in spec[1].value:
                if getattr(key, "value", None) == "type" and isinstance(value, yaml.ScalarNode):
                    kind = str(value.value).strip() or None
        self.data_sources[str(name_node.value)] = kind

    def metadata(self, node: yaml.Node, where: str, *, name_required: bool = True) -> _Meta | None:
        keys = self.mapping(
            node,
            where,
            ("name", "displayName", "labels", "annotations"),
            required=("name",) if name_required else (),
        )
        if keys is None:
            return None
        meta = _Meta(name=None)
        ok = True
        if "name" in keys:
            name_node = keys["name"][1]
            meta.name = self.string(name_node, _join(where, "name"))
            if meta.name is not None and not meta.name.replace("-", "").replace("_", "").isalnum():
                self.error(
                    name_node,
                    _join(where, "name"),
                    f"{meta.name!r}: a name is letters, digits, '-' and '_'",
                )
                meta.name = None
            ok = meta.name is not None
        if "displayName" in keys:
            meta.display_name = (
                self.string(keys["displayName"][1], _join(where, "displayName")) or ""
            )
        if "labels" in keys:
            meta.labels = self.labels(keys["labels"][1], _join(where, "labels"))
        if "annotations" in keys:
            at = _join(where, "annotations")
            node_a = keys["annotations"][1]
            if isinstance(node_a, yaml.MappingNode):
                others = []
                for key, value in node_a.value:
                    name = str(getattr(key, "value", ""))
                    if name in (QUANTILE_ANNOTATION, KIND_ANNOTATION):
                        text = self.string(value, f"{at}.{name}")
                        if text is not None:
                            meta.annotations[name] = (text, value)
                    else:
                        others.append(name)
                if others:
                    self.ignore(
                        node_a,
                        at,
                        f"{', '.join(others)}: watchstander keeps no annotations (it reads only"
                        f" {QUANTILE_ANNOTATION} and {KIND_ANNOTATION})",
                    )
            elif not (isinstance(node_a, yaml.ScalarNode) and node_a.tag == _NULL):
                self.error(node_a, at, "expected a mapping of names to strings")
        return meta if ok else None

    def labels(self, node: yaml.Node, where: str) -> dict[str, str]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, where, "expected a mapping of names to strings")
            return {}
        out: dict[str, str] = {}
        for key, value in node.value:
            name = str(getattr(key, "value", ""))
            if not name:
                self.error(key, where, "a label needs a name")
                continue
            if isinstance(value, yaml.ScalarNode) and value.tag != _NULL:
                out[name] = str(value.value)
            else:
                self.ignore(
                    value, f"{where}.{name}", "watchstander labels are strings (not lists or maps)"
                )
        return out

    # SLIs

    def sli_document(self, doc: yaml.Node, keys: _Keys) -> None:
        meta_node = keys["metadata"][1]
        meta = self.metadata(meta_node, "metadata")
        if meta is None or meta.name is None:
            return
        if meta.name in self.slis:
            self.error(meta_node, "metadata.name", f"another SLI document is named {meta.name}")
            return
        self.slis[meta.name] = self.sli(meta, keys["spec"][1], "spec", doc)

    def sli(self, meta: _Meta, node: yaml.Node, where: str, doc: yaml.Node) -> _Sli | None:
        keys = self.mapping(node, where, ("description", "thresholdMetric", "ratioMetric"))
        if keys is None:
            return None
        sli = _Sli(meta=meta, node=doc, field=where)
        if "description" in keys:
            sli.description = self.string(keys["description"][1], f"{where}.description") or ""
        if "thresholdMetric" in keys and "ratioMetric" in keys:
            self.error(node, where, "give thresholdMetric or ratioMetric, not both")
            return None
        if "ratioMetric" in keys:
            return sli if self.ratio(sli, keys["ratioMetric"][1], f"{where}.ratioMetric") else None
        if "thresholdMetric" in keys:
            at = f"{where}.thresholdMetric"
            source = self.metric(keys["thresholdMetric"][1], at)
            if source is None:
                return None
            sli.ratio = False
            sli.threshold_source = source
            self.ignore(
                source.node,
                source.field,
                "watchstander measures a threshold SLI through its own metric source; this"
                " query is not used",
            )
            return sli
        self.error(node, where, "missing: an SLI needs ratioMetric or thresholdMetric")
        return None

    def ratio(self, sli: _Sli, node: yaml.Node, where: str) -> bool:
        keys = self.mapping(
            node,
            where,
            ("counter", "good", "bad", "total", "raw", "rawType"),
            required=("total",),
        )
        if keys is None:
            return False
        ok = "total" in keys
        for name in ("raw", "rawType"):
            if name in keys:
                self.error(
                    keys[name][0],
                    f"{where}.{name}",
                    "not supported: watchstander budgets good or bad events against total (give"
                    " good or bad with total), not a precomputed ratio",
                )
                ok = False
        if "good" in keys and "bad" in keys:
            self.error(node, where, "give good or bad with total, not both")
            ok = False
        elif "good" not in keys and "bad" not in keys:
            self.error(node, f"{where}.good", "missing: give good or bad with total")
            ok = False
        if "counter" in keys:
            ok = self.boolean(keys["counter"][1], f"{where}.counter") is not None and ok
        sources: dict[str, _Source] = {}
        for name in ("good", "bad", "total"):
            if name in keys:
                source = self.metric(keys[name][1], f"{where}.{name}")
                if source is None:
                    ok = False
                else:
                    sources[name] = source
        if not ok:
            return False
        self.ratio_queries(sli, sources)
        return True

    def ratio_queries(self, sli: _Sli, sources: dict[str, _Source]) -> None:
        """The error and total queries for the exported rules, when all are Prometheus."""
        others = [s for s in sources.values() if s.query is None]
        for s in others:
            what = f"a {s.type} metric source" if s.type else "a metric source of unknown type"
            self.ignore(
                s.node,
                s.field,
                f"{what}: watchstander measures availability through its own metric source,"
                " and only Prometheus queries are exported as rules",
            )
        if others:
            if len(others) < len(sources):
                first = next(s for s in sources.values() if s.query is not None)
                self.ignore(
                    first.node,
                    first.field,
                    "the other side of the ratio is not a Prometheus query, so neither is"
                    " exported as rules",
                )
            return
        queries: dict[str, str] = {}
        for name, s in sources.items():
            assert s.query is not None
            queries[name] = self.templatize(s)
        total = queries["total"]
        error = queries["bad"] if "bad" in queries else f"({total}) - ({queries['good']})"
        sli.error_query, sli.total_query = error, total

    def templatize(self, s: _Source) -> str:
        """The query with its range selector replaced by {{.window}} (Sloth's variable)."""
        assert s.query is not None
        if _WINDOW_VAR.search(s.query):
            return s.query
        ranges = sorted({m.group(1) for m in _RANGE.finditer(s.query)})
        if len(ranges) == 1:
            return _RANGE.sub("[{{.window}}]", s.query)
        problem = (
            "it has no range selector such as [5m]"
            if not ranges
            else f"it has several ranges ({', '.join(ranges)})"
        )
        self.ignore(
            s.node,
            f"{s.field}.query",
            f"{problem} to replace with each rule window ({{{{.window}}}}): kept as written,"
            " and the SLO's Prometheus rules are not exported until it has one",
        )
        return s.query

    def metric(self, node: yaml.Node, where: str) -> _Source | None:
        keys = self.mapping(node, where, ("metricSource",), required=("metricSource",))
        if keys is None or "metricSource" not in keys:
            return None
        at = f"{where}.metricSource"
        src = self.mapping(keys["metricSource"][1], at, ("metricSourceRef", "type", "spec"))
        if src is None:
            return None
        kind: str | None = None
        if "type" in src:
            kind = self.string(src["type"][1], f"{at}.type")
            if kind is None:
                return None
        if "metricSourceRef" in src:
            ref = self.string(src["metricSourceRef"][1], f"{at}.metricSourceRef")
            if ref is None:
                return None
            if ref in self.data_sources:
                kind = kind or self.data_sources[ref]
            elif kind is None:
                self.ignore(
                    src["metricSourceRef"][1],
                    f"{at}.metricSourceRef",
                    f"no DataSource {ref!r} in the file, so the query's type is unknown",
                )
        elif kind is None:
            self.error(keys["metricSource"][1], f"{at}.type", "missing (or give metricSourceRef)")
            return None
        query: str | None = None
        if kind is not None and kind.lower() == "prometheus":
            if "spec" not in src:
                self.error(keys["metricSource"][1], f"{at}.spec", "missing: the Prometheus query")
                return None
            spec = self.mapping(src["spec"][1], f"{at}.spec", ("query", "promql"))
            if spec is None:
                return None
            if "query" in spec and "promql" in spec:
                self.error(src["spec"][1], f"{at}.spec", "give query or promql, not both")
                return None
            if "query" not in spec and "promql" not in spec:
                self.error(src["spec"][1], f"{at}.spec.query", "missing: the Prometheus query")
                return None
            name = "query" if "query" in spec else "promql"
            query = self.string(spec[name][1], f"{at}.spec.{name}")
            if query is None:
                return None
        return _Source(kind, query, keys["metricSource"][1], at)

    # SLOs

    def slo(self, doc: yaml.Node, keys: _Keys) -> SloDefinition | None:
        meta = self.metadata(keys["metadata"][1], "metadata")
        spec_node = keys["spec"][1]
        spec = self.mapping(
            spec_node,
            "spec",
            (
                "description",
                "service",
                "indicator",
                "indicatorRef",
                "timeWindow",
                "budgetingMethod",
                "objectives",
            ),
            required=("timeWindow", "budgetingMethod", "objectives"),
            unsupported={"alertPolicies": _ALERTS_WHY},
        )
        if meta is None or meta.name is None or spec is None:
            return None
        ok = True
        description = ""
        if "description" in spec:
            description = self.string(spec["description"][1], "spec.description") or ""
        service: str | None = None
        if "service" in spec:
            service = self.string(spec["service"][1], "spec.service")
            ok = ok and service is not None
        elif self.default_service is not None:
            service = self.default_service
        else:
            self.error(spec_node, "spec.service", "missing: the service the SLO is about")
            ok = False
        sli = self.indicator(spec_node, spec)
        window = self.window(spec["timeWindow"][1]) if "timeWindow" in spec else None
        budgeting: Budgeting | None = None
        if "budgetingMethod" in spec:
            budgeting = self.budgeting(spec["budgetingMethod"][1])
        objective = self.objectives(spec["objectives"][1]) if "objectives" in spec else None
        if not ok or sli is None or window is None or budgeting is None or objective is None:
            return None
        return self.combine(meta, spec, description, service, sli, window, budgeting, objective)

    def indicator(self, spec_node: yaml.Node, spec: _Keys) -> _Sli | None:
        if "indicator" in spec and "indicatorRef" in spec:
            self.error(spec_node, "spec.indicator", "give indicator or indicatorRef, not both")
            return None
        if "indicator" in spec:
            node = spec["indicator"][1]
            keys = self.mapping(node, "spec.indicator", ("metadata", "spec"), required=("spec",))
            if keys is None or "spec" not in keys:
                return None
            meta = _Meta(name=None)
            if "metadata" in keys:
                parsed = self.metadata(
                    keys["metadata"][1], "spec.indicator.metadata", name_required=False
                )
                if parsed is None:
                    return None
                meta = parsed
            return self.sli(meta, keys["spec"][1], "spec.indicator.spec", node)
        if "indicatorRef" in spec:
            node = spec["indicatorRef"][1]
            ref = self.string(node, "spec.indicatorRef")
            if ref is None:
                return None
            if ref not in self.slis:
                known = ", ".join(sorted(self.slis)) or "none"
                self.error(
                    node,
                    "spec.indicatorRef",
                    f"no SLI named {ref!r} in the file (SLI documents here: {known})",
                )
                return None
            self.used_slis.add(ref)
            return self.slis[ref]  # None when that document has errors (reported there)
        self.error(spec_node, "spec.indicator", "missing: give indicator or indicatorRef")
        return None

    def window(self, node: yaml.Node) -> Window | None:
        items = self.sequence(node, "spec.timeWindow")
        if items is None:
            return None
        if len(items) != 1:
            self.error(
                node,
                "spec.timeWindow",
                f"exactly one time window is supported, found {len(items)}",
            )
            return None
        where = "spec.timeWindow[0]"
        keys = self.mapping(
            items[0], where, ("duration", "isRolling", "calendar"), required=("duration",)
        )
        if keys is None or "duration" not in keys:
            return None
        dur_node = keys["duration"][1]
        text = self.string(dur_node, f"{where}.duration")
        if text is None:
            return None
        match = _DURATION.match(text)
        if match is None:
            self.error(
                dur_node,
                f"{where}.duration",
                f"{text!r} is not an OpenSLO duration (a number and one unit of m, h, d, w, M,"
                " Q, Y: 28d, 1M)",
            )
            return None
        count, unit = int(match.group(1)), match.group(2)
        if count <= 0:
            self.error(dur_node, f"{where}.duration", "must be longer than zero")
            return None
        if unit in ("Q", "Y"):
            self.error(
                dur_node,
                f"{where}.duration",
                f"{text}: quarter and year windows are not supported (use up to a month: 28d,"
                " 30d, 1M)",
            )
            return None
        rolling = False
        if "isRolling" in keys:
            parsed = self.boolean(keys["isRolling"][1], f"{where}.isRolling")
            if parsed is None:
                return None
            rolling = parsed
        if rolling:
            if "calendar" in keys:
                self.error(
                    keys["calendar"][0],
                    f"{where}.calendar",
                    "a rolling window has no calendar (drop it, or set isRolling: false)",
                )
                return None
            if unit == "M":
                self.assume(dur_node, f"{where}.duration", f"{text} rolling is {count * 30}d")
                return Window(count * _MONTH)
            return Window(count * _UNIT[unit])
        if "calendar" not in keys:
            self.error(
                items[0],
                f"{where}.calendar",
                "missing: a window that is not rolling needs calendar (or isRolling: true)",
            )
            return None
        if count != 1 or unit not in _CALENDARS:
            self.error(
                dur_node,
                f"{where}.duration",
                f"{text}: a calendar window is one day, week or month (1d, 1w, 1M)",
            )
            return None
        calendar = _CALENDARS[unit]
        return self.calendar(keys["calendar"][1], f"{where}.calendar", calendar)

    def calendar(self, node: yaml.Node, where: str, calendar: str) -> Window | None:
        keys = self.mapping(node, where, ("startTime", "timeZone"))
        if keys is None:
            return None
        zone = "UTC"
        if "timeZone" in keys:
            name = self.string(keys["timeZone"][1], f"{where}.timeZone")
            if name is None:
                return None
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.error(
                    keys["timeZone"][1],
                    f"{where}.timeZone",
                    f"unknown time zone {name!r} (an IANA name: Europe/Berlin)",
                )
                return None
            zone = name
        else:
            self.assume(node, f"{where}.timeZone", "UTC")
        if "startTime" in keys:
            start_node = keys["startTime"][1]
            text = self.string(start_node, f"{where}.startTime")
            if text is None:
                return None
            try:
                start = datetime.fromisoformat(text)
            except ValueError:
                self.error(
                    start_node,
                    f"{where}.startTime",
                    f"{text!r} is not a date-time (e.g. 2022-01-01 00:00:00)",
                )
                return None
            aligned = start.time() == datetime.min.time()
            if calendar == "week":
                aligned = aligned and start.weekday() == 0
            elif calendar == "month":
                aligned = aligned and start.day == 1
            if not aligned:
                self.ignore(
                    start_node,
                    f"{where}.startTime",
                    f"watchstander's calendar {calendar}s start at local midnight (weeks on"
                    " Monday, months on the 1st)",
                )
        duration = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": _MONTH}
        return Window(duration[calendar], rolling=False, calendar=calendar, timezone=zone)

    def budgeting(self, node: yaml.Node) -> Budgeting | None:
        text = self.string(node, "spec.budgetingMethod")
        if text is None:
            return None
        if text.lower() == "occurrences":
            return Budgeting.OCCURRENCES
        if text.lower() == "timeslices":
            return Budgeting.TIMESLICES
        if text.lower() == "ratiotimeslices":
            self.error(
                node,
                "spec.budgetingMethod",
                "RatioTimeslices is not supported (watchstander budgets Occurrences or"
                " Timeslices, not the mean of per-slice ratios)",
            )
            return None
        self.error(
            node,
            "spec.budgetingMethod",
            f"{text!r} is not one of Occurrences | Timeslices | RatioTimeslices",
        )
        return None

    def objectives(self, node: yaml.Node) -> _Objective | None:
        items = self.sequence(node, "spec.objectives")
        if items is None:
            return None
        if not items:
            self.error(node, "spec.objectives", "no objective given")
            return None
        if len(items) > 1:
            self.error(
                node,
                "spec.objectives",
                f"{len(items)} objectives: composite/multiple objectives are not supported"
                " (watchstander budgets one objective per SLO; split them into SLOs)",
            )
            return None
        where = "spec.objectives[0]"
        keys = self.mapping(
            items[0],
            where,
            (
                "displayName",
                "op",
                "value",
                "target",
                "targetPercent",
                "timeSliceTarget",
                "timeSliceWindow",
                "indicator",
                "indicatorRef",
            ),
            unsupported={
                "compositeWeight": "watchstander has no composite SLOs (one objective per SLO)"
            },
        )
        if keys is None:
            return None
        ok = True
        for name in ("indicator", "indicatorRef"):
            if name in keys:
                self.error(
                    keys[name][0],
                    f"{where}.{name}",
                    "an objective's own indicator (a composite SLO) is not supported: give the"
                    " SLI in spec.indicator or spec.indicatorRef",
                )
                ok = False
        target = self.target(items[0], keys, where)
        if target is None:
            return None
        objective = _Objective(items[0], where, target)
        if "displayName" in keys:
            objective.display_name = (
                self.string(keys["displayName"][1], f"{where}.displayName") or ""
            )
        if "op" in keys:
            op = self.string(keys["op"][1], f"{where}.op")
            if op is not None and op.lower() not in _OPS:
                self.error(keys["op"][1], f"{where}.op", f"{op!r} is not one of {' | '.join(_OPS)}")
                op = None
            ok = ok and op is not None
            objective.op = (op.lower(), keys["op"][1]) if op is not None else None
        if "value" in keys:
            value = self.number(keys["value"][1], f"{where}.value")
            ok = ok and value is not None
            objective.value = (value, keys["value"][1]) if value is not None else None
        if "timeSliceTarget" in keys:
            tst_node = keys["timeSliceTarget"][1]
            tst = self.number(tst_node, f"{where}.timeSliceTarget")
            if tst is not None and not 0.0 < tst <= 1.0:
                self.error(tst_node, f"{where}.timeSliceTarget", f"{tst:g} is not in (0, 1]")
                tst = None
            ok = ok and tst is not None
            objective.timeslice_target = (tst, tst_node) if tst is not None else None
        if "timeSliceWindow" in keys:
            self.ignore(
                keys["timeSliceWindow"][0],
                f"{where}.timeSliceWindow",
                "watchstander judges slices at its own resolution (slo_monitoring.resolution)",
            )
        return objective if ok else None

    def target(self, node: yaml.Node, keys: _Keys, where: str) -> float | None:
        if "target" in keys and "targetPercent" in keys:
            self.error(node, f"{where}.target", "give target or targetPercent, not both")
            return None
        if "target" not in keys and "targetPercent" not in keys:
            self.error(node, f"{where}.target", "missing: give target (0.999) or targetPercent")
            return None
        name, scale = ("target", 1.0) if "target" in keys else ("targetPercent", 100.0)
        value_node = keys[name][1]
        value = self.number(value_node, f"{where}.{name}")
        if value is None:
            return None
        if value >= scale:
            self.error(
                value_node,
                f"{where}.{name}",
                f"{value:g}: impossible objective: 100% leaves no error budget (use e.g."
                f" {0.999 * scale:g})",
            )
            return None
        if value <= 0.0:
            self.error(value_node, f"{where}.{name}", f"{value:g}: must be above 0")
            return None
        return round(value / scale, 12)

    # the SloDefinition

    def combine(
        self,
        meta: _Meta,
        spec: _Keys,
        description: str,
        service: str | None,
        sli: _Sli,
        window: Window,
        budgeting: Budgeting,
        objective: _Objective,
    ) -> SloDefinition | None:
        assert meta.name is not None and service is not None
        where = objective.field
        method_node = spec["budgetingMethod"][1]
        kind = SliKind.AVAILABILITY
        threshold: float | None = None
        quantile: float | None = None
        timeslice_target: float | None = None
        if sli.ratio:
            for name, given in (("op", objective.op), ("value", objective.value)):
                if given is not None:
                    self.ignore(
                        given[1],
                        f"{where}.{name}",
                        "op and value compare a thresholdMetric; a ratioMetric SLI is judged"
                        " by target alone",
                    )
            if budgeting is Budgeting.TIMESLICES:
                if objective.timeslice_target is None:
                    self.error(
                        objective.node,
                        f"{where}.timeSliceTarget",
                        "missing: Timeslices budgeting of a ratio needs the share of good"
                        " events that makes a slice good (e.g. 0.95)",
                    )
                    return None
                timeslice_target = objective.timeslice_target[0]
            elif objective.timeslice_target is not None:
                self.ignore(
                    objective.timeslice_target[1],
                    f"{where}.timeSliceTarget",
                    "only Timeslices budgeting judges slices",
                )
        else:
            if objective.op is None or objective.value is None:
                for name, given in (("op", objective.op), ("value", objective.value)):
                    if given is None:
                        self.error(
                            objective.node,
                            f"{where}.{name}",
                            "missing: a thresholdMetric SLI needs op (lte, lt, gte, gt) and value",
                        )
                return None
            op, op_node = objective.op
            threshold, value_node = objective.value
            kind_or_none = self.threshold_kind(meta, sli, op, op_node, where)
            if kind_or_none is None:
                return None
            kind = kind_or_none
            if threshold <= 0:
                self.error(value_node, f"{where}.value", f"{threshold:g}: must be above 0")
                return None
            if op in ("lt", "gt"):
                self.assume(
                    op_node,
                    f"{where}.op",
                    f"{op} is judged as {op}e (a slice at exactly the value is good)",
                )
            if budgeting is not Budgeting.TIMESLICES:
                what = "latency" if kind is SliKind.LATENCY else "throughput"
                self.error(
                    method_node,
                    "spec.budgetingMethod",
                    f"a {what} SLI (thresholdMetric) must be budgeted by Timeslices: watchstander"
                    f" judges each slice's {what} against the value (Occurrences would need"
                    " every request judged)",
                )
                return None
            if objective.timeslice_target is not None:
                self.ignore(
                    objective.timeslice_target[1],
                    f"{where}.timeSliceTarget",
                    "a threshold slice is good when its measured value is within the value",
                )
            if kind is SliKind.LATENCY:
                quantile = self.quantile(meta, sli)
                if quantile is None:
                    return None
                query = sli.threshold_source.query if sli.threshold_source else None
                if query is not None and "_seconds" in query:
                    self.assume(
                        value_node,
                        f"{where}.value",
                        f"{threshold:g} is milliseconds (watchstander's latency unit), though"
                        " the query measures seconds",
                    )
        labels = dict(sli.meta.labels)
        labels.update(meta.labels)
        text = (
            description
            or meta.display_name
            or sli.description
            or sli.meta.display_name
            or objective.display_name
        )
        try:
            return SloDefinition(
                name=meta.name,
                service=service,
                kind=kind,
                objective=objective.target,
                window=window,
                budgeting=budgeting,
                threshold=threshold,
                quantile=quantile,
                timeslice_target=timeslice_target,
                description=text,
                labels=labels,
                source=self.source,
                error_query=sli.error_query if sli.ratio else None,
                total_query=sli.total_query if sli.ratio else None,
            )
        except ValueError as exc:  # checked above; kept as a safety net
            self.error(objective.node, where, str(exc))
            return None

    def threshold_kind(
        self, meta: _Meta, sli: _Sli, op: str, op_node: yaml.Node, where: str
    ) -> SliKind | None:
        declared: str | None = None
        for at, m in (("metadata", meta), (_meta_field(sli), sli.meta)):
            if KIND_ANNOTATION in m.annotations and declared is None:
                text, node = m.annotations[KIND_ANNOTATION]
                declared = text.lower()
                if declared not in ("latency", "throughput"):
                    self.error(
                        node,
                        f"{at}.annotations.{KIND_ANNOTATION}",
                        f"{text!r} is not latency or throughput",
                    )
                    return None
        if op in ("gte", "gt"):
            if declared == "latency":
                self.error(
                    op_node,
                    f"{where}.op",
                    f"{op}: a latency SLI keeps the value at or under the threshold (lte)",
                )
                return None
            return SliKind.THROUGHPUT
        if declared == "throughput":
            self.error(
                op_node,
                f"{where}.op",
                f"{op}: a throughput SLI keeps requests/s at or above the value (gte)",
            )
            return None
        query = sli.threshold_source.query if sli.threshold_source else None
        words = " ".join(
            (
                meta.name or "",
                meta.display_name,
                sli.meta.name or "",
                sli.meta.display_name,
                sli.description,
                query or "",
            )
        ).lower()
        if declared == "latency" or any(hint in words for hint in _LATENCY_HINTS):
            return SliKind.LATENCY
        self.error(
            op_node,
            f"{where}.op",
            f"{op}: a threshold kept under a value is read as latency, and nothing in this SLI"
            " says latency (its names, description or query); if it is, add the annotation"
            f" {KIND_ANNOTATION}: latency; watchstander has no other upper-bound SLI",
        )
        return None

    def quantile(self, meta: _Meta, sli: _Sli) -> float | None:
        for where, m in (("metadata", meta), (_meta_field(sli), sli.meta)):
            if QUANTILE_ANNOTATION in m.annotations:
                text, node = m.annotations[QUANTILE_ANNOTATION]
                value = _parse_quantile(text)
                if value is None:
                    self.error(
                        node,
                        f"{where}.annotations.{QUANTILE_ANNOTATION}",
                        f"{text!r} is not a quantile watchstander measures (0.5, 0.95, 0.99)",
                    )
                return value
        source = sli.threshold_source
        if source is not None and source.query is not None:
            match = _HISTOGRAM_QUANTILE.search(source.query)
            if match is not None:
                value = _parse_quantile(match.group(1))
                if value is not None:
                    return value
        self.assume(
            sli.node,
            f"{_meta_field(sli)}.annotations.{QUANTILE_ANNOTATION}",
            f"p{round(DEFAULT_QUANTILE * 100)} (no {QUANTILE_ANNOTATION} annotation on the SLO"
            " or SLI, and no histogram_quantile in the query)",
        )
        return DEFAULT_QUANTILE


def _meta_field(sli: _Sli) -> str:
    """Where the SLI's metadata is: its own document's, or the inline indicator's."""
    return "metadata" if sli.field == "spec" else "spec.indicator.metadata"


def _parse_quantile(text: str) -> float | None:
    raw = text.strip().lower().removeprefix("p")
    try:
        value = float(raw)
    except ValueError:
        return None
    if value >= 1.0:
        value /= 100.0
    for q in QUANTILE_METRICS:
        if math.isclose(value, q):
            return q
    return None
