"""KubernetesTarget: the Target protocol over Deployments, a Service and (optionally) a
Gateway API HTTPRoute in one namespace, through the official client.

Objects (names from config; docs/backends/kubernetes.md shows them in full):

- one Deployment per version, `{app}-{version}`, labels `app` and `version`, the exact
  version in the annotation `watchstander.io/version` (a label cannot hold every version);
- the Service `{service}`: its selector is the traffic switch. `app` + `version` pins all
  traffic to one version (blue-green switch = one selector patch); `app` alone spreads it
  over the ready pods of every version (canary by replica ratio);
- with `canary_mode: gateway`, a Service per version `{service}-{version}` and the user's
  HTTPRoute, whose backendRefs weights watchstander sets, plus one rule per running version
  that matches the header X-Watchstander-Version (the preview address);
- for Deployment-native rolling updates (`roll`, `pause_rollout`, `resume_rollout`,
  `undo_rollout`), one Deployment `{app}` whose pod template changes version.

Every action reads the objects, computes the desired state and writes only what differs
(JSON merge patches), so repeating an action sends no write and leaves every
resourceVersion as it was. The client is synchronous: each request runs in a worker thread
(asyncio.to_thread). The client is an optional extra and untyped; `_Api` is the one place
that touches it, and turns its errors into DataPlaneError with a one-line reason.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.dataplane.state import validate_weights
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import Capability, Endpoint, InstanceState, TargetState

__all__ = ["KubernetesTarget", "RolloutStatus", "VERSION_HEADER", "replica_split"]

VERSION_HEADER = "X-Watchstander-Version"
VERSION_ANNOTATION = "watchstander.io/version"
WEIGHTS_ANNOTATION = "watchstander.io/weights"
PREVIOUS_ANNOTATION = "watchstander.io/previous-version"
MANAGED_BY = {"app.kubernetes.io/managed-by": "watchstander"}
TRACK_LABEL = "watchstander.io/track"  # "rolling" on the Deployment-native rolling pods
_MERGE_PATCH = "application/merge-patch+json"
_ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes"


def replica_split(weights: Mapping[str, float], replicas: int) -> dict[str, int]:
    """Pods per version that approximate `weights` (percent) out of `replicas`.

    A Service spreads connections evenly over ready pods, so a version's share of traffic
    is its share of ready pods. Each version gets replicas x weight / 100 rounded half up,
    and at least one pod when its weight is above 0 (a 5% canary of 3 replicas still
    needs a pod, and then gets 1/4 of the traffic: the smallest share this mode can give is
    1 / (replicas + 1)). Versions at 0% get no pods.
    """
    return {
        version: max(1, math.floor(replicas * weight / 100 + 0.5))
        for version, weight in weights.items()
        if weight > 0
    }


@dataclass(frozen=True)
class RolloutStatus:
    """The Deployment-native rolling update, as `kubectl rollout status` sees it."""

    version: str | None  # the version of the current pod template
    previous: str | None  # what undo_rollout goes back to
    paused: bool
    replicas: int
    updated: int  # pods of the current template
    ready: int
    complete: bool  # every pod updated and ready, and the controller saw the change


class _Api:
    """The official client's REST layer behind a typed, synchronous request function."""

    def __init__(self, config: KubernetesTargetConfig) -> None:
        try:
            from kubernetes import client as k8s_client
            from kubernetes import config as k8s_config
        except ImportError as exc:
            raise DataPlaneError(
                "target.type kubernetes needs the Kubernetes client: "
                "install watchstander[kubernetes]"
            ) from exc
        self._client_module = k8s_client
        self._config_module = k8s_config
        self._config = config
        self.server = "?"  # the API server's URL, once the config is loaded
        self._api: Any = None
        self._lock = threading.Lock()  # requests run in worker threads, maybe two at once

    def _connect(self) -> Any:
        with self._lock:
            if self._api is None:
                self._api = self._load()
            return self._api

    def _load(self) -> Any:
        configuration = self._client_module.Configuration()
        try:
            if self._config.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                self._config_module.load_incluster_config(client_configuration=configuration)
            else:
                self._config_module.load_kube_config(
                    config_file=self._config.kubeconfig,
                    context=self._config.context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except Exception as exc:  # the loader raises ConfigException, OSError, YAML errors
            where = self._config.kubeconfig or "$KUBECONFIG or ~/.kube/config"
            raise DataPlaneError(f"cannot load the Kubernetes config from {where}: {exc}") from exc
        configuration.retries = 1
        self.server = str(configuration.host)
        return self._client_module.ApiClient(configuration)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        api = self._connect()
        headers = {"Accept": "application/json"}
        if method == "PATCH":
            headers["Content-Type"] = _MERGE_PATCH
        try:
            response = api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self._config.timeout,
            )
            try:
                data: dict[str, Any] = json.loads(response.data or b"{}")
            finally:
                response.release_conn()  # unread responses would hold pool connections
            return data
        except self._client_module.exceptions.ApiException as exc:
            raise _HttpError(exc.status or 0, _reason(exc), method, path) from exc
        except Exception as exc:  # urllib3 connection and timeout errors, bad JSON
            raise DataPlaneError(
                f"Kubernetes API at {self.server} failed {method} {path}: "
                f"{type(exc).__name__}: {_one_line(str(exc))}"
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api.rest_client.pool_manager.clear()
                self._api = None


class _HttpError(DataPlaneError):
    """The API server answered with an error Status."""

    def __init__(self, code: int, reason: str, method: str, path: str) -> None:
        super().__init__(f"Kubernetes API refused {method} {path}: {code} {reason}")
        self.code = code


def _reason(exc: Any) -> str:
    try:
        status = json.loads(exc.body)
        text = f"{status.get('reason', '')}: {status.get('message', '')}".strip(": ")
    except (TypeError, ValueError, AttributeError):
        text = str(exc.reason or "")
    return _one_line(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _dns(version: str) -> str:
    return re.sub(r"[^a-z0-9.-]", "-", version.lower()).strip(".-") or "v"


def _label(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)[:63].strip("._-") or "v"


class KubernetesTarget:
    """Drives Deployments, a Service and an HTTPRoute; see the module docstring."""

    # What every mode offers; with canary_mode gateway an instance adds HEADER_ROUTING.
    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.WEIGHTED_TRAFFIC,
            Capability.INSTANT_SWITCH,
            Capability.SCALE,
            Capability.DRAIN,
        }
    )

    def __init__(self, config: KubernetesTargetConfig, *, service: str) -> None:
        self.config = config
        self.service = service
        self._api = _Api(config)
        self._gateway = config.canary_mode == "gateway"
        if self._gateway:
            self.capabilities = type(self).capabilities | {Capability.HEADER_ROUTING}
        ns = config.namespace
        self._deployments = f"/apis/apps/v1/namespaces/{ns}/deployments"
        self._services = f"/api/v1/namespaces/{ns}/services"
        self._pods = f"/api/v1/namespaces/{ns}/pods"
        self._route = f"{_ROUTES.format(ns=ns)}/{config.httproute}"
        self._restarts: dict[str, list[float]] = {}  # pod uid -> times of seen restarts

    # -- names -------------------------------------------------------------------------

    def deployment_name(self, version: str) -> str:
        return f"{self.config.app}-{_dns(version)}"

    def version_service(self, version: str) -> str:
        return f"{self.config.service}-{_dns(version).replace('.', '-')}"[:63].rstrip("-")

    # -- requests ----------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._api.request, method, path, body=body, query=query)

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            return await self._call("GET", path)
        except _HttpError as exc:
            if exc.code == 404:
                return None
            raise

    async def _list(self, path: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in selector.items())}
        items: list[dict[str, Any]] = (await self._call("GET", path, query=query))["items"]
        return items

    async def _create(self, path: str, body: dict[str, Any]) -> None:
        try:
            await self._call("POST", path, body)
        except _HttpError as exc:
            if exc.code != 409:  # created by someone else meanwhile: fine, it exists
                raise

    # -- the protocol ------------------------------------------------------------------

    async def ping(self) -> None:
        await self._call("GET", self._deployments, query={"limit": "1"})
        if self._gateway and await self._get(self._route) is None:
            raise DataPlaneError(
                f"HTTPRoute {self.config.httproute!r} not found in namespace "
                f"{self.config.namespace!r}: create it with parentRefs to your Gateway "
                "(docs/backends/kubernetes.md)"
            )

    async def scale(self, version: str, replicas: int) -> None:
        if replicas < 0:
            raise DataPlaneError(f"cannot scale {version} to {replicas} replicas")
        name = self.deployment_name(version)
        path = f"{self._deployments}/{name}"
        current = await self._get(path)
        if current is None:
            if replicas > 0:
                await self._create(self._deployments, self._deployment(version, replicas))
        elif current["spec"].get("replicas", 1) != replicas:
            await self._call("PATCH", path, {"spec": {"replicas": replicas}})
        if self._gateway:
            if replicas > 0:
                await self._ensure_version_service(version)
            await self._update_route(preview={version: replicas > 0})

    async def set_weights(self, weights: Mapping[str, float]) -> None:
        try:
            wanted = {v: w for v, w in validate_weights(dict(weights)).items() if w > 0}
        except ValueError as exc:
            raise DataPlaneError(f"Kubernetes target refused the weights: {exc}") from exc
        if self._gateway:
            for version in wanted:
                await self._ensure_version_service(version)
            await self._update_route(weights=wanted)
            return
        if len(wanted) == 1:
            (version,) = wanted
            await self._ensure_service({"app": self.config.app, "version": _label(version)}, wanted)
            return
        # Canary by replica ratio: more pods first, then the selector, then fewer pods, so
        # capacity never dips while the split changes.
        split = replica_split(wanted, self.config.replicas)
        current = {d["version"]: d["replicas"] for d in await self._managed() if not d["rolling"]}
        for version, n in split.items():
            if n > current.get(version, 0):
                await self.scale(version, n)
        await self._ensure_service({"app": self.config.app}, wanted)
        for version, n in current.items():
            if split.get(version, 0) < n:
                await self.scale(version, split.get(version, 0))

    async def state(self) -> TargetState:
        deployments = await self._managed()
        pods = await self._list(self._pods, {"app": self.config.app})
        now = time.time()
        instances = tuple(
            self._instance(pod, now)
            for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"]))
        )
        desired: dict[str, int] = {}
        for d in deployments:
            if d["replicas"] > 0:
                desired[d["version"]] = desired.get(d["version"], 0) + d["replicas"]
        known = {d["version"] for d in deployments} | {i.version for i in instances}
        weights = await self._weights(known, instances)
        seen = {str(p["metadata"].get("uid")) for p in pods}
        for uid in set(self._restarts) - seen:
            del self._restarts[uid]
        return TargetState(
            instances=instances, weights=weights, observed_at=now, desired_replicas=desired
        )

    def endpoint(self, version: str | None = None) -> Endpoint:
        # Only the gateway mode can reach one version by a header; the replica mode's
        # preview address is the Service itself.
        preview = version is not None and self._gateway
        return Endpoint(
            url=f"http://{self.config.listen}",
            headers={VERSION_HEADER: version} if preview and version else {},
        )

    async def aclose(self) -> None:
        await asyncio.to_thread(self._api.close)

    # -- Deployment-native rolling update ------------------------------------------

    @property
    def rolling_deployment(self) -> str:
        return self.config.app

    async def roll(self, version: str) -> None:
        """Move the `{app}` Deployment's pod template to `version` and let its own
        RollingUpdate strategy replace the pods (maxSurge / maxUnavailable). Creates the
        Deployment with `replicas` pods when missing, and points the Service at its pods."""
        path = f"{self._deployments}/{self.rolling_deployment}"
        current = await self._get(path)
        if current is None:
            body = self._deployment(version, self.config.replicas, rolling=True)
            await self._create(self._deployments, body)
        else:
            running = _template_version(current)
            if running != version:
                await self._call("PATCH", path, self._template_patch(version, previous=running))
        await self._ensure_service({"app": self.config.app, TRACK_LABEL: "rolling"}, None)

    async def pause_rollout(self) -> None:
        await self._set_paused(True)

    async def resume_rollout(self) -> None:
        await self._set_paused(False)

    async def undo_rollout(self) -> None:
        """Back to the version before the last `roll` (like `kubectl rollout undo`).
        Idempotent: the previous version stays recorded, so a second undo changes nothing."""
        path = f"{self._deployments}/{self.rolling_deployment}"
        current = await self._require(path)
        previous = current["metadata"].get("annotations", {}).get(PREVIOUS_ANNOTATION)
        if not previous:
            raise DataPlaneError(f"Deployment {self.rolling_deployment!r} has nothing to undo")
        if _template_version(current) != previous:
            await self._call("PATCH", path, self._template_patch(previous, previous=None))

    async def rollout_status(self) -> RolloutStatus:
        dep = await self._require(f"{self._deployments}/{self.rolling_deployment}")
        spec, status = dep["spec"], dep.get("status", {})
        replicas = int(spec.get("replicas", 1))
        updated = int(status.get("updatedReplicas", 0))
        ready = int(status.get("readyReplicas", 0))
        observed = status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 0)
        return RolloutStatus(
            version=_template_version(dep),
            previous=dep["metadata"].get("annotations", {}).get(PREVIOUS_ANNOTATION),
            paused=bool(spec.get("paused", False)),
            replicas=replicas,
            updated=updated,
            ready=ready,
            complete=observed
            and updated == replicas
            and ready == replicas
            and int(status.get("replicas", 0)) == replicas,
        )

    async def _set_paused(self, paused: bool) -> None:
        path = f"{self._deployments}/{self.rolling_deployment}"
        current = await self._require(path)
        if bool(current["spec"].get("paused", False)) != paused:
            await self._call("PATCH", path, {"spec": {"paused": paused}})

    async def _require(self, path: str) -> dict[str, Any]:
        found = await self._get(path)
        if found is None:
            raise DataPlaneError(
                f"Deployment {path.rsplit('/', 1)[-1]!r} not found in namespace "
                f"{self.config.namespace!r}"
            )
        return found

    # -- objects -----------------------------------------------------------------------

    def _pod_template(self, version: str, *, rolling: bool) -> dict[str, Any]:
        health = self.config.health
        labels = {"app": self.config.app, "version": _label(version)}
        if rolling:
            labels[TRACK_LABEL] = "rolling"
        return {
            "metadata": {"labels": labels, "annotations": {VERSION_ANNOTATION: version}},
            "spec": {
                "containers": [
                    {
                        "name": self.config.app,
                        "image": self.config.image.format(version=version),
                        "ports": [{"name": "http", "containerPort": self.config.container_port}],
                        "readinessProbe": {
                            "httpGet": {"path": health.path, "port": self.config.container_port},
                            "periodSeconds": max(1, round(health.interval)),
                            "timeoutSeconds": max(1, round(health.timeout)),
                            "failureThreshold": health.failure_threshold,
                            "successThreshold": health.success_threshold,
                        },
                    }
                ]
            },
        }

    def _deployment(self, version: str, replicas: int, *, rolling: bool = False) -> dict[str, Any]:
        app = self.config.app
        if rolling:
            name, selector = app, {"app": app, TRACK_LABEL: "rolling"}
            labels = {"app": app, **MANAGED_BY}
        else:
            name, selector = self.deployment_name(version), {"app": app, "version": _label(version)}
            labels = {**selector, **MANAGED_BY}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": self.config.namespace,
                "labels": labels,
                "annotations": {} if rolling else {VERSION_ANNOTATION: version},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "template": self._pod_template(version, rolling=rolling),
            },
        }

    def _template_patch(self, version: str, *, previous: str | None) -> dict[str, Any]:
        patch: dict[str, Any] = {"spec": {"template": self._pod_template(version, rolling=True)}}
        if previous is not None:
            patch["metadata"] = {"annotations": {PREVIOUS_ANNOTATION: previous}}
        return patch

    async def _managed(self) -> list[dict[str, Any]]:
        """Every Deployment watchstander manages for the app: version and replicas."""
        selector = {"app": self.config.app, **MANAGED_BY}
        out = []
        for dep in await self._list(self._deployments, selector):
            version = _template_version(dep)
            if version is not None:
                rolling = dep["metadata"]["name"] == self.rolling_deployment
                replicas = int(dep["spec"].get("replicas", 1))
                out.append({"version": version, "replicas": replicas, "rolling": rolling})
        return out

    async def _ensure_service(
        self, selector: dict[str, str], weights: Mapping[str, float] | None
    ) -> None:
        name = self.config.service
        annotations = {} if weights is None else {WEIGHTS_ANNOTATION: _dump(weights)}
        current = await self._get(f"{self._services}/{name}")
        if current is None:
            await self._create(self._services, self._service(name, selector, annotations))
            return
        patch: dict[str, Any] = {}
        if current["spec"].get("selector") != selector:
            # a merge patch merges maps: drop the keys the new selector does not have
            old = current["spec"].get("selector") or {}
            patch["spec"] = {"selector": {**{k: None for k in old}, **selector}}
        have = current["metadata"].get("annotations") or {}
        if weights is not None and have.get(WEIGHTS_ANNOTATION) != annotations[WEIGHTS_ANNOTATION]:
            patch["metadata"] = {"annotations": annotations}
        if patch:
            await self._call("PATCH", f"{self._services}/{name}", patch)

    def _service(
        self, name: str, selector: dict[str, str], annotations: dict[str, str]
    ) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": self.config.namespace,
                "labels": {"app": self.config.app, **MANAGED_BY},
                "annotations": annotations,
            },
            "spec": {
                "selector": selector,
                "ports": [
                    {
                        "name": "http",
                        "port": self.config.service_port,
                        "targetPort": self.config.container_port,
                    }
                ],
            },
        }

    async def _ensure_version_service(self, version: str) -> None:
        name = self.version_service(version)
        if await self._get(f"{self._services}/{name}") is None:
            selector = {"app": self.config.app, "version": _label(version)}
            body = self._service(name, selector, {VERSION_ANNOTATION: version})
            await self._create(self._services, body)

    async def _update_route(
        self,
        *,
        weights: Mapping[str, float] | None = None,
        preview: Mapping[str, bool] | None = None,
    ) -> None:
        """Set the weighted backendRefs and/or add or drop preview rules, retrying when
        someone else changed the HTTPRoute between our read and our write."""
        for attempt in range(3):
            route = await self._get(self._route)
            if route is None:
                raise DataPlaneError(
                    f"HTTPRoute {self.config.httproute!r} not found in namespace "
                    f"{self.config.namespace!r}"
                )
            rules = route.get("spec", {}).get("rules") or []
            new_rules = self._rules(rules, weights or {}, preview or {}, set_weights=weights)
            if new_rules == rules:
                return
            patch = {
                "metadata": {"resourceVersion": route["metadata"]["resourceVersion"]},
                "spec": {"rules": new_rules},
            }
            try:
                await self._call("PATCH", self._route, patch)
                return
            except _HttpError as exc:
                if exc.code != 409 or attempt == 2:
                    raise

    def _rules(
        self,
        rules: list[dict[str, Any]],
        weights: Mapping[str, float],
        preview: Mapping[str, bool],
        *,
        set_weights: Mapping[str, float] | None,
    ) -> list[dict[str, Any]]:
        previews = {v: r for r in rules if (v := _preview_version(r)) is not None}
        for version, wanted in preview.items():
            if wanted:
                previews[version] = self._preview_rule(version)
            else:
                previews.pop(version, None)
        main = [r for r in rules if _preview_version(r) is None]
        if set_weights is not None:
            refs = [
                {
                    "group": "",
                    "kind": "Service",
                    "name": self.version_service(version),
                    "port": self.config.service_port,
                    # Gateway API weights are integers: hundredths of a percent.
                    "weight": round(weight * 100),
                }
                for version, weight in sorted(weights.items())
            ]
            if not main:
                main = [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]
            main = [{**rule, "backendRefs": refs} for rule in main]
        return [*(previews[v] for v in sorted(previews)), *main]

    def _preview_rule(self, version: str) -> dict[str, Any]:
        return {
            "matches": [
                {
                    "headers": [{"type": "Exact", "name": VERSION_HEADER, "value": version}],
                    "path": {"type": "PathPrefix", "value": "/"},
                }
            ],
            "backendRefs": [
                {
                    "group": "",
                    "kind": "Service",
                    "name": self.version_service(version),
                    "port": self.config.service_port,
                    "weight": 1,
                }
            ],
        }

    # -- reading state -----------------------------------------------------------------

    async def _weights(
        self, known: set[str], instances: tuple[InstanceState, ...]
    ) -> dict[str, float]:
        if self._gateway:
            route = await self._get(self._route)
            rules = (route or {}).get("spec", {}).get("rules") or []
            main = [r for r in rules if _preview_version(r) is None]
            by_service = {self.version_service(v): v for v in known}
            for svc in await self._list(self._services, {"app": self.config.app, **MANAGED_BY}):
                version = (svc["metadata"].get("annotations") or {}).get(VERSION_ANNOTATION)
                if version:
                    by_service[str(svc["metadata"]["name"])] = str(version)
            refs = main[0].get("backendRefs", []) if main else []
            total = sum(int(r.get("weight", 1)) for r in refs)
            return {
                by_service.get(r["name"], r["name"]): round(
                    100.0 * int(r.get("weight", 1)) / total, 4
                )
                for r in refs
                if total and int(r.get("weight", 1)) > 0
            }
        service = await self._get(f"{self._services}/{self.config.service}")
        if service is None:
            return {}
        selector = service["spec"].get("selector") or {}
        if "version" in selector:
            by_label = {_label(v): v for v in known}
            return {by_label.get(selector["version"], selector["version"]): 100.0}
        if TRACK_LABEL in selector:  # native rolling: traffic follows the ready pods
            ready = [i.version for i in instances if i.ready and not i.draining]
            return {v: round(100.0 * ready.count(v) / len(ready), 4) for v in sorted(set(ready))}
        raw = (service["metadata"].get("annotations") or {}).get(WEIGHTS_ANNOTATION, "{}")
        try:
            return {str(k): float(v) for k, v in json.loads(raw).items()}
        except (ValueError, AttributeError) as exc:
            raise DataPlaneError(
                f"Service {self.config.service!r} has an unreadable {WEIGHTS_ANNOTATION}: {raw!r}"
            ) from exc

    def _instance(self, pod: dict[str, Any], now: float) -> InstanceState:
        meta, status = pod["metadata"], pod.get("status", {})
        labels = meta.get("labels") or {}
        version = (meta.get("annotations") or {}).get(VERSION_ANNOTATION) or labels.get(
            "version", "?"
        )
        containers = status.get("containerStatuses") or []
        restarts = sum(int(c.get("restartCount", 0)) for c in containers)
        ooms, exit_code, crash_loop, last_finish = 0, None, False, None
        for c in containers:
            for terminated in (
                (c.get("lastState") or {}).get("terminated"),
                (c.get("state") or {}).get("terminated"),
            ):
                if terminated:
                    ooms += terminated.get("reason") == "OOMKilled"
                    exit_code = terminated.get("exitCode", exit_code)
                    last_finish = _time(terminated.get("finishedAt")) or last_finish
            waiting = (c.get("state") or {}).get("waiting") or {}
            crash_loop = crash_loop or waiting.get("reason") == "CrashLoopBackOff"
        running = status.get("phase") == "Running" and any(
            "running" in (c.get("state") or {}) for c in containers
        )
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        port = self.config.container_port
        return InstanceState(
            id=str(meta["name"]),
            version=str(version),
            address=f"{status.get('podIP', '')}:{port}",
            running=running,
            ready=ready,
            draining="deletionTimestamp" in meta,
            restarts=restarts,
            restart_times=self._restart_times(str(meta.get("uid")), restarts, last_finish or now),
            oom_kills=ooms,
            last_exit_code=exit_code,
            crash_loop=crash_loop,
            health_failures=0 if ready or not running else 1,
            started_at=_time(status.get("startTime")),
        )

    def _restart_times(self, uid: str, restarts: int, at: float) -> tuple[float, ...]:
        """The API keeps only a restart count and the last termination time, so restarts
        are dated when first seen: all of a pod's earlier restarts at its last termination
        (a pod that crash-looped before we looked counts as having just done so), each
        later one at the termination time reported with it."""
        times = self._restarts.setdefault(uid, [])
        if restarts > len(times):
            times.extend([at] * (restarts - len(times)))
        del times[:-64]
        return tuple(times)


def _template_version(dep: dict[str, Any]) -> str | None:
    template = dep.get("spec", {}).get("template", {}).get("metadata", {})
    version = (template.get("annotations") or {}).get(VERSION_ANNOTATION)
    return str(version) if version else (template.get("labels") or {}).get("version")


def _preview_version(rule: dict[str, Any]) -> str | None:
    for match in rule.get("matches") or []:
        for header in match.get("headers") or []:
            if header.get("name") == VERSION_HEADER:
                return str(header.get("value"))
    return None


def _dump(weights: Mapping[str, float]) -> str:
    return json.dumps({k: float(v) for k, v in sorted(weights.items())}, sort_keys=True)


def _time(raw: Any) -> float | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
