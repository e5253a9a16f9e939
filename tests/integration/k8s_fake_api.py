"""A fake Kubernetes API server: a TEST DOUBLE, not a cluster.

No cluster can run on the machines these tests run on, so the Kubernetes target is tested
against this recorded-contract fake instead. It is an aiohttp server on a free loopback
port that implements exactly the REST subset KubernetesTarget uses, and nothing else:

    apps/v1                         deployments: list, create, get, patch, replace
    v1                              services: list, create, get, patch, replace; pods: list, get
    gateway.networking.k8s.io/v1    httproutes: list, create, get, patch, replace

Response bodies follow the shapes of the recorded examples in data/k8s/ (written from the
Kubernetes API reference): kind/apiVersion, metadata.resourceVersion that changes only when
an object really changes, metadata.generation bumped by spec changes, Status objects with
code and reason for errors (404 NotFound, 409 AlreadyExists / Conflict on a stale
resourceVersion, 422 Invalid, 415 for patch types other than JSON merge patch).

A small simulated controller turns Deployment replicas into Pods that become Ready after
`ready_after` seconds, rolls a changed pod template (unless `spec.paused`) within the
RollingUpdate strategy's maxSurge and maxUnavailable (counts or percentages), and lets
terminating pods linger for `grace` seconds with a deletionTimestamp. Faults per version: `crash-loop` (CrashLoopBackOff, growing
restartCount), `oom-killed` (restarted once, lastState.terminated.reason OOMKilled) and
`never-ready` (running, readiness never passes). `fail(...)` makes the next matching
requests answer with a Status error.

What the fake does not model: scheduling, ReplicaSet objects, watches, strategic merge
patch, server-side apply, admission, RBAC, endpoints and real traffic. Anything the target
starts to use beyond the subset above answers 404, so the contract stays explicit.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import math
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from aiohttp import web

__all__ = ["FakeKubernetesApi", "Fault", "DATA", "recorded"]

DATA = Path(__file__).parent / "data" / "k8s"
Fault = Literal["crash-loop", "oom-killed", "never-ready"]

# (api group/version, plural) -> kind
_KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "deployments"): "Deployment",
    ("v1", "services"): "Service",
    ("v1", "pods"): "Pod",
    ("gateway.networking.k8s.io/v1", "httproutes"): "HTTPRoute",
}
_GROUPS = {"apps/v1": "apps", "v1": "", "gateway.networking.k8s.io/v1": "gateway.networking.k8s.io"}
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_MERGE_PATCH = "application/merge-patch+json"


def recorded(name: str) -> dict[str, Any]:
    """One recorded example body from data/k8s/."""
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        # The envelope of the recorded Status bodies, with this error's fields.
        body = recorded("status-404.json")
        body.update(code=self.code, reason=self.reason, message=self.message)
        body["details"] = self.details
        return body


@dataclass
class _Injected:
    method: str
    plural: str
    name: str | None
    code: int
    reason: str
    message: str
    times: int


@dataclass
class _PodSim:
    deployment: str
    template_hash: str
    version: str
    created: float
    terminating_since: float | None = None


class FakeKubernetesApi:
    """The fake API server; see the module docstring. `async with` starts and stops it."""

    def __init__(self, *, ready_after: float = 0.05, tick: float = 0.02, grace: float = 0.1):
        self.ready_after, self.tick, self.grace = ready_after, tick, grace
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.faults: dict[str, Fault] = {}  # version label -> fault
        self._pods: dict[tuple[str, str], _PodSim] = {}  # (ns, pod name) -> simulation
        self._rolled: dict[tuple[str, str], str] = {}  # (ns, deployment) -> template hash
        self._injected: list[_Injected] = []
        # (ns, deployment) -> most pods it had at once, and fewest ready ones while rolling
        self.peak: dict[tuple[str, str], int] = {}
        self.low: dict[tuple[str, str], int] = {}
        # (ns, deployment, template hash) -> the pod template that hash stands for
        self._templates: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._rv = itertools.count(1000)
        self._ips = itertools.count(2)
        self._runner: web.AppRunner | None = None
        self._controller: asyncio.Task[None] | None = None
        self.url = ""

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        for prefix in ("/api/{version}", "/apis/{group}/{version}"):
            base = prefix + "/namespaces/{ns}/{plural}"
            app.router.add_route("GET", base, self._list)
            app.router.add_route("POST", base, self._create)
            app.router.add_route("GET", base + "/{name}", self._get)
            app.router.add_route("PATCH", base + "/{name}", self._patch)
            app.router.add_route("PUT", base + "/{name}", self._replace)
        app.middlewares.append(self._errors)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._controller = asyncio.create_task(self._control_loop())
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._controller is not None:
            self._controller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._controller
            self._controller = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeKubernetesApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """A kubeconfig whose current context points the official client at this fake."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # -- what tests use ----------------------------------------------------------------

    def fail(
        self,
        method: str,
        plural: str,
        *,
        code: int,
        reason: str,
        message: str,
        name: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with a Status error."""
        self._injected.append(_Injected(method, plural, name, code, reason, message, times))

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object as a user would have (e.g. the HTTPRoute with its parentRefs)."""
        plural = {kind: plural for (_, plural), kind in _KINDS.items()}[obj["kind"]]
        return self._store_new(plural, obj["metadata"].get("namespace", "default"), obj)

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural, ns, name))

    def items(self, plural: str, ns: str) -> list[dict[str, Any]]:
        return [o for (p, n, _), o in sorted(self.objects.items()) if p == plural and n == ns]

    def resource_versions(self, ns: str) -> dict[tuple[str, str], str]:
        return {
            (p, name): o["metadata"]["resourceVersion"]
            for (p, n, name), o in self.objects.items()
            if n == ns and p != "pods"
        }

    def settled(self, ns: str) -> bool:
        """Whether the simulated controller has nothing left to do in `ns`: every
        Deployment's status matches its spec and no pod is terminating."""
        for dep in self.items("deployments", ns):
            status, want = dep.get("status", {}), dep["spec"].get("replicas", 1)
            if status.get("observedGeneration") != dep["metadata"]["generation"]:
                return False
            counts = [status.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas")]
            if counts != [want] * 3:
                return False
        return not any(_terminating(p) for p in self.items("pods", ns))

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    # -- HTTP handlers -------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        try:
            self._check_injected(request)
            return await handler(request)
        except ApiError as exc:
            return web.json_response(exc.status(), status=exc.code)

    def _check_injected(self, request: web.Request) -> None:
        plural = request.match_info.get("plural")
        name = request.match_info.get("name")
        for rule in self._injected:
            if (
                rule.times > 0
                and rule.method == request.method
                and rule.plural == plural
                and rule.name in (None, name)
            ):
                rule.times -= 1
                raise ApiError(rule.code, rule.reason, rule.message, name=name, kind=plural)

    def _resource(self, request: web.Request) -> tuple[str, str, str]:
        m = request.match_info
        api = f"{m['group']}/{m['version']}" if "group" in m else m["version"]
        if (api, m["plural"]) not in _KINDS:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return api, m["ns"], m["plural"]

    def _existing(self, request: web.Request) -> tuple[str, str, str, dict[str, Any]]:
        api, ns, plural = self._resource(request)
        name = request.match_info["name"]
        obj = self.objects.get((plural, ns, name))
        if obj is None:
            group = _GROUPS[api]
            what = f"{plural}.{group}" if group else plural
            raise ApiError(
                404, "NotFound", f'{what} "{name}" not found', name=name, group=group, kind=plural
            )
        return api, ns, plural, obj

    async def _list(self, request: web.Request) -> web.Response:
        api, ns, plural = self._resource(request)
        wanted = _parse_selector(request.query.get("labelSelector", ""))
        items = [
            o
            for o in self.items(plural, ns)
            if all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        return web.json_response(
            {
                "kind": f"{_KINDS[(api, plural)]}List",
                "apiVersion": api,
                "metadata": {"resourceVersion": str(next(self._rv))},
                "items": items,
            }
        )

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self._existing(request)[3])

    async def _create(self, request: web.Request) -> web.Response:
        api, ns, plural = self._resource(request)
        body = await request.json()
        body.setdefault("apiVersion", api)
        body.setdefault("kind", _KINDS[(api, plural)])
        return web.json_response(self._store_new(plural, ns, body), status=201)

    async def _patch(self, request: web.Request) -> web.Response:
        _, ns, plural, obj = self._existing(request)
        if request.content_type != _MERGE_PATCH:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the fake only takes {_MERGE_PATCH}, not {request.content_type}",
            )
        patch = await request.json()
        self._check_version(obj, patch.get("metadata", {}).get("resourceVersion"), plural)
        return web.json_response(
            self._update(plural, ns, obj, merge_patch(copy.deepcopy(obj), patch))
        )

    async def _replace(self, request: web.Request) -> web.Response:
        _, ns, plural, obj = self._existing(request)
        body = await request.json()
        self._check_version(obj, body.get("metadata", {}).get("resourceVersion"), plural)
        new = {**body, "status": copy.deepcopy(obj.get("status", {}))}
        return web.json_response(self._update(plural, ns, obj, new))

    # -- the object store ------------------------------------------------------------

    def _check_version(self, obj: dict[str, Any], given: str | None, plural: str) -> None:
        if given is not None and given != obj["metadata"]["resourceVersion"]:
            name = obj["metadata"]["name"]
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                name=name,
                kind=plural,
            )

    def _store_new(self, plural: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        if (plural, ns, name) in self.objects:
            raise ApiError(
                409, "AlreadyExists", f'{plural} "{name}" already exists', name=name, kind=plural
            )
        self._validate(plural, obj)
        meta.update(
            namespace=ns,
            uid=str(uuid.uuid4()),
            resourceVersion=str(next(self._rv)),
            creationTimestamp=_now(),
        )
        meta.pop("deletionTimestamp", None)
        if plural in ("deployments", "httproutes"):
            meta["generation"] = 1
        if plural == "deployments":
            obj["spec"].setdefault("replicas", 1)
            obj["spec"].setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
            )
            obj["spec"].setdefault("revisionHistoryLimit", 10)
            obj["spec"].setdefault("progressDeadlineSeconds", 600)
            obj["status"] = {}
        if plural == "services":
            obj["spec"].setdefault("type", "ClusterIP")
            obj["spec"].setdefault("clusterIP", f"10.96.0.{next(self._ips)}")
            obj["status"] = {"loadBalancer": {}}
        self.objects[(plural, ns, name)] = obj
        return obj

    def _update(
        self, plural: str, ns: str, old: dict[str, Any], new: dict[str, Any]
    ) -> dict[str, Any]:
        for immutable in ("name", "namespace", "uid", "creationTimestamp"):
            new["metadata"][immutable] = old["metadata"][immutable]
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        new["metadata"].pop("generation", None)
        if "generation" in old["metadata"]:
            new["metadata"]["generation"] = old["metadata"]["generation"]
        if plural == "deployments" and new["spec"].get("selector") != old["spec"].get("selector"):
            raise self._invalid(old, "spec.selector", "field is immutable")
        self._validate(plural, new)
        if new == old:  # a no-op write changes nothing, not even the resourceVersion
            return old
        if "generation" in new["metadata"] and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] += 1
        new["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[(plural, ns, old["metadata"]["name"])] = new
        return new

    def _invalid(self, obj: dict[str, Any], path: str, message: str) -> ApiError:
        kind = obj.get("kind", "object")
        name = obj.get("metadata", {}).get("name", "")
        return ApiError(
            422,
            "Invalid",
            f'{kind} "{name}" is invalid: {path}: Invalid value: {message}',
            name=name,
            kind=kind,
            causes=[{"reason": "FieldValueInvalid", "message": message, "field": path}],
        )

    def _validate(self, plural: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        name = meta.get("name", "")
        pattern = _DNS_LABEL if plural == "services" else _DNS_SUBDOMAIN
        if not pattern.match(name) or len(name) > 253:
            raise self._invalid(obj, "metadata.name", f"{name!r}: not a valid name")
        for key, value in (meta.get("labels") or {}).items():
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
                raise self._invalid(obj, f"metadata.labels.{key}", f"{value!r}: bad label value")
        if plural == "deployments":
            spec = obj.get("spec", {})
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or replicas < 0:
                raise self._invalid(obj, "spec.replicas", f"{replicas}: must be >= 0")
            selector = spec.get("selector", {}).get("matchLabels", {})
            labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                raise self._invalid(
                    obj, "spec.template.metadata.labels", "`selector` does not match template"
                )
            rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
            if rolling and rolling.get("maxSurge") == 0 and rolling.get("maxUnavailable") == 0:
                raise self._invalid(
                    obj,
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    "may not be 0 when `maxSurge` is 0",
                )

    def _bump(self, plural: str, ns: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        if obj.get("status") != status:
            obj["status"] = status
            obj["metadata"]["resourceVersion"] = str(next(self._rv))
            self.objects[(plural, ns, obj["metadata"]["name"])] = obj

    # -- the simulated controller ------------------------------------------------------

    async def _control_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.reconcile(loop.time())
            await asyncio.sleep(self.tick)

    def reconcile(self, now: float) -> None:
        for (plural, ns, name), deployment in list(self.objects.items()):
            if plural == "deployments":
                self._reconcile_deployment(ns, name, deployment, now)
        for (ns, pod_name), sim in list(self._pods.items()):
            self._reconcile_pod(ns, pod_name, sim, now)

    def _owned(self, ns: str, deployment: str) -> Iterator[tuple[str, _PodSim, dict[str, Any]]]:
        for (pod_ns, pod_name), sim in list(self._pods.items()):
            if pod_ns == ns and sim.deployment == deployment:
                yield pod_name, sim, self.objects[("pods", ns, pod_name)]

    def _reconcile_deployment(self, ns: str, name: str, dep: dict[str, Any], now: float) -> None:
        spec = dep["spec"]
        template = spec["template"]
        latest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        if not spec.get("paused") or (ns, name) not in self._rolled:
            self._rolled[(ns, name)] = latest
        current = self._rolled[(ns, name)]
        replicas = int(spec.get("replicas", 1))
        live = [(n, s, p) for n, s, p in self._owned(ns, name) if not _terminating(p)]
        new = [x for x in live if x[1].template_hash == current]
        old = [x for x in live if x[1].template_hash != current]
        if current != latest:  # paused mid-template-change: scale what runs, roll nothing
            template = self._templates.get((ns, name, current), template)
        self._templates[(ns, name, current)] = template
        surge, unavailable = _rolling_limits(spec, replicas)
        # RollingUpdate: never more than replicas + maxSurge pods, never fewer than
        # replicas - maxUnavailable ready ones; old pods that are not ready go first.
        for _ in range(min(replicas - len(new), replicas + surge - len(live))):
            self._new_pod(ns, name, template, current, now)
        for pod_name, _, pod in new[replicas:]:
            self._terminate(ns, pod_name, pod)
        ready_live = sum(1 for _, _, p in live if _pod_ready(p))
        budget = max(0, ready_live - (replicas - unavailable))
        doomed = [x for x in old if not _pod_ready(x[2])]
        doomed += [x for x in old if _pod_ready(x[2])][:budget]
        if not new and replicas == 0:
            doomed = old
        for pod_name, _, pod in doomed:
            self._terminate(ns, pod_name, pod)
        owned = [p for _, _, p in self._owned(ns, name)]
        alive = [p for p in owned if not _terminating(p)]
        ready = sum(1 for p in alive if _pod_ready(p))
        if old:
            self.peak[(ns, name)] = max(self.peak.get((ns, name), 0), len(alive))
            self.low[(ns, name)] = min(self.low.get((ns, name), replicas), ready)
        updated = sum(
            1
            for _, s, p in self._owned(ns, name)
            if s.template_hash == latest and not _terminating(p)
        )
        status: dict[str, Any] = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": len(alive),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if len(alive) - ready:
            status["unavailableReplicas"] = len(alive) - ready
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        self._bump("deployments", ns, dep, status)

    def _new_pod(
        self,
        ns: str,
        deployment: str,
        template: dict[str, Any],
        template_hash: str,
        now: float,
    ) -> None:
        pod = recorded("pod-running.json")
        suffix = uuid.uuid4().hex[:5]
        rs = f"{deployment}-{template_hash}"
        labels = {**template["metadata"].get("labels", {}), "pod-template-hash": template_hash}
        pod["metadata"] = {
            "name": f"{rs}-{suffix}",
            "generateName": f"{rs}-",
            "namespace": ns,
            "uid": str(uuid.uuid4()),
            "resourceVersion": str(next(self._rv)),
            "creationTimestamp": _now(),
            "labels": labels,
            "annotations": dict(template["metadata"].get("annotations", {})),
            "ownerReferences": [
                {**pod["metadata"]["ownerReferences"][0], "name": rs, "uid": str(uuid.uuid4())}
            ],
        }
        pod["spec"] = {**copy.deepcopy(template["spec"]), "nodeName": "node-a"}
        pod["status"] = {"phase": "Pending", "conditions": [], "qosClass": "BestEffort"}
        name = pod["metadata"]["name"]
        self.objects[("pods", ns, name)] = pod
        version = labels.get("version", "")
        self._pods[(ns, name)] = _PodSim(deployment, template_hash, version, now)

    def _terminate(self, ns: str, name: str, pod: dict[str, Any]) -> None:
        if not _terminating(pod):
            pod["metadata"]["deletionTimestamp"] = _now()
            pod["metadata"]["deletionGracePeriodSeconds"] = 30
            pod["metadata"]["resourceVersion"] = str(next(self._rv))

    def _reconcile_pod(self, ns: str, name: str, sim: _PodSim, now: float) -> None:
        pod = self.objects[("pods", ns, name)]
        if _terminating(pod):
            if sim.terminating_since is None:
                sim.terminating_since = now
            elif now - sim.terminating_since >= self.grace:
                del self._pods[(ns, name)]
                del self.objects[("pods", ns, name)]
            return
        if now - sim.created < self.ready_after:
            return
        status = _pod_status(pod, self.faults.get(sim.version), sim, now, next(self._ips))
        if pod.get("status", {}).get("containerStatuses") and _same_shape(pod["status"], status):
            return
        pod["status"] = status
        pod["metadata"]["resourceVersion"] = str(next(self._rv))


def _same_shape(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a pod's status changed in a way a kubelet would report (timestamps aside)."""

    def key(s: dict[str, Any]) -> Any:
        c = s["containerStatuses"][0]
        return (s["phase"], c["ready"], c["restartCount"], sorted(c["state"]))

    return bool(key(old) == key(new))


def _rolling_limits(spec: dict[str, Any], replicas: int) -> tuple[int, int]:
    """maxSurge and maxUnavailable as pod counts: percentages round up for the surge and
    down for unavailability, and when both come to 0 one pod may be unavailable."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}

    def count(raw: Any, round_up: bool) -> int:
        if isinstance(raw, str) and raw.endswith("%"):
            share = replicas * int(raw[:-1]) / 100
            return math.ceil(share) if round_up else math.floor(share)
        return int(raw)

    surge = count(rolling.get("maxSurge", "25%"), True)
    unavailable = count(rolling.get("maxUnavailable", "25%"), False)
    return surge, unavailable if surge or unavailable else 1


def _terminating(pod: dict[str, Any]) -> bool:
    return "deletionTimestamp" in pod["metadata"]


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _pod_status(
    pod: dict[str, Any], fault: Fault | None, sim: _PodSim, now: float, ip: int
) -> dict[str, Any]:
    """The recorded status shape that matches the pod's fault."""
    if fault == "crash-loop":
        base = recorded("pod-crashloop.json")["status"]
        # one more restart every 0.2 s while it crash-loops
        base["containerStatuses"][0]["restartCount"] = 1 + int((now - sim.created) / 0.2)
    elif fault == "oom-killed":
        base = recorded("pod-oomkilled.json")["status"]
    else:
        base = recorded("pod-running.json")["status"]
        if fault == "never-ready":
            for condition in base["conditions"]:
                if condition["type"] in ("Ready", "ContainersReady"):
                    condition.update(status="False", reason="ContainersNotReady")
            base["containerStatuses"][0]["ready"] = False
    old_ip = pod.get("status", {}).get("podIP")
    address = old_ip or f"10.244.0.{ip % 250 + 2}"
    base.update(podIP=address, podIPs=[{"ip": address}], startTime=_now())
    container = base["containerStatuses"][0]
    terminated = container["lastState"].get("terminated")
    if terminated:  # the recorded example's crash happened just now in this simulation
        terminated["finishedAt"] = _now()
    container["name"] = pod["spec"]["containers"][0]["name"]
    container["image"] = pod["spec"]["containers"][0]["image"]
    return base


def _parse_selector(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, raw.split(",")):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip().lstrip("=")
    return out
