"""KubernetesTarget: the Target protocol over Deployments, a Service and (optionally) a
Gateway API HTTPRoute in one namespace, through the official client.

Objects (names from config; docs/backends/kubernetes.md shows them in full, objects.py
builds them):

- one Deployment per version, `{app}-{version}`, labels `app` and `version`, the exact
  version in the annotation `watchstander.io/version` (a label cannot hold every version);
- the Service `{service}`: its selector is the traffic switch. `app` + `version` pins all
  traffic to one version (blue-green switch = one selector patch); `app` alone spreads it
  over the ready pods of every version (canary by replica ratio);
- with `canary_mode: gateway`, a Service per version `{service}-{version}` and the user's
  HTTPRoute, whose backendRefs weights watchstander sets, plus one rule per running version
  that matches the header X-Watchstander-Version (the preview address);
- for the Deployment-native rolling update (`rolling: native`, the default: `roll`,
  `pause_rollout`, `resume_rollout`, `undo_rollout`, `rollout_status`), one Deployment
  `{app}` whose pod template changes version and whose own RollingUpdate strategy
  (maxSurge / maxUnavailable) replaces the pods.

Every action reads the objects, computes the desired state and writes only what differs
(JSON merge patches), so repeating an action sends no write and leaves every
resourceVersion as it was. The client is synchronous: each request runs in a worker thread
(asyncio.to_thread); api.py is the one module that touches it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.dataplane.state import validate_weights
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import (
    Capability,
    DeploymentStatus,
    Endpoint,
    InstanceState,
    TargetState,
)
from watchstander.providers.targets.kubernetes.api import Api, HttpError
from watchstander.providers.targets.kubernetes.objects import (
    MANAGED_BY,
    PREVIOUS_ANNOTATION,
    TRACK_LABEL,
    VERSION_ANNOTATION,
    VERSION_HEADER,
    WEIGHTS_ANNOTATION,
    Objects,
    dump_weights,
    label_value,
    parse_time,
    preview_version,
    replica_split,
    template_version,
)

__all__ = ["KubernetesTarget"]

_ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes"


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
        self._api = Api(config)
        self.objects = Objects(config)
        self._gateway = config.canary_mode == "gateway"
        if self._gateway:
            self.capabilities = self.capabilities | {Capability.HEADER_ROUTING}
        if config.native_rolling:
            self.capabilities = self.capabilities | {Capability.NATIVE_ROLLING}
        ns = config.namespace
        self._deployments = f"/apis/apps/v1/namespaces/{ns}/deployments"
        self._services = f"/api/v1/namespaces/{ns}/services"
        self._pods = f"/api/v1/namespaces/{ns}/pods"
        self._route = f"{_ROUTES.format(ns=ns)}/{config.httproute}"
        self._restarts: dict[str, list[float]] = {}  # pod uid -> times of seen restarts

    # -- requests ----------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return await asyncio.to_thread(self._api.request, method, path, body=body, query=query)

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            return await self._call("GET", path)
        except HttpError as exc:
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
        except HttpError as exc:
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
        name = self.objects.deployment_name(version)
        path = f"{self._deployments}/{name}"
        current = await self._get(path)
        if current is None:
            if replicas > 0:
                await self._create(self._deployments, self.objects.deployment(version, replicas))
        elif current["spec"].get("replicas", 1) != replicas:
            await self._call("PATCH", path, {"spec": {"replicas": replicas}})
        if replicas == 0:
            await self._stop_rolling(version)
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
            await self._ensure_service(
                {"app": self.config.app, "version": label_value(version)}, wanted
            )
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

    async def roll(
        self, version: str, *, max_surge: int | None = None, max_unavailable: int | None = None
    ) -> None:
        """Move the `{app}` Deployment's pod template to `version` and let its own
        RollingUpdate strategy replace the pods, `max_surge` / `max_unavailable` at a time
        when given. Creates the Deployment with `replicas` pods when missing, remembers the
        version it replaces (for undo) and points the Service at its pods."""
        path = f"{self._deployments}/{self.objects.rolling_deployment}"
        strategy = self.objects.rolling_strategy(max_surge, max_unavailable)
        await self._refuse_when_versions_serve()
        current = await self._get(path)
        if current is None:
            body = self.objects.deployment(version, self.config.replicas, rolling=True)
            if strategy is not None:
                body["spec"]["strategy"] = strategy
            await self._create(self._deployments, body)
        else:
            patch: dict[str, Any] = {}
            running = template_version(current)
            if running != version:
                patch = self.objects.template_patch(version, previous=running)
            if strategy is not None and current["spec"].get("strategy") != strategy:
                patch.setdefault("spec", {})["strategy"] = strategy
            if current["spec"].get("replicas", 1) == 0:  # stopped earlier: start it again
                patch.setdefault("spec", {})["replicas"] = self.config.replicas
            if patch:
                await self._call("PATCH", path, patch)
        await self._ensure_service({"app": self.config.app, TRACK_LABEL: "rolling"}, None)

    async def _refuse_when_versions_serve(self) -> None:
        """Switching a Service that selects per-version Deployments (a canary or blue-green
        release) over to the rolling Deployment would send traffic to pods that are not
        ready yet: refuse, before anything changes."""
        service = await self._get(f"{self._services}/{self.config.service}")
        selector = (service or {}).get("spec", {}).get("selector") or {}
        if not service or TRACK_LABEL in selector:
            return
        serving = sorted(
            self.objects.deployment_name(d["version"])
            for d in await self._managed()
            if not d["rolling"] and d["replicas"] > 0
        )
        if serving:
            raise DataPlaneError(
                f"Service {self.config.service!r} is served by per-version Deployments "
                f"({', '.join(serving)}): release with --strategy canary or blue-green, or "
                "set target.rolling: versions (docs/backends/kubernetes.md)"
            )

    async def pause_rollout(self) -> None:
        await self._set_paused(True)

    async def resume_rollout(self) -> None:
        await self._set_paused(False)

    async def undo_rollout(self, expected: str | None = None) -> None:
        """Back to the version before the last `roll` (like `kubectl rollout undo`),
        refused when that is not `expected`. Idempotent: the previous version stays
        recorded, so a second undo changes nothing."""
        path = f"{self._deployments}/{self.objects.rolling_deployment}"
        current = await self._get(path)
        if current is None or int(current["spec"].get("replicas", 1)) == 0:
            return  # nothing was rolled out, or nothing of it runs: nothing to undo
        if expected is not None and template_version(current) == expected:
            return  # already back
        previous = (current["metadata"].get("annotations") or {}).get(PREVIOUS_ANNOTATION)
        if not previous:
            raise DataPlaneError(
                f"Deployment {self.objects.rolling_deployment!r} has nothing to undo"
            )
        if expected is not None and previous != expected:
            raise DataPlaneError(
                f"Deployment {self.objects.rolling_deployment!r} would go back to {previous}, "
                f"not {expected}: someone else rolled it meanwhile"
            )
        if template_version(current) != previous:
            await self._call("PATCH", path, self.objects.template_patch(previous, previous=None))

    async def rollout_status(self) -> DeploymentStatus:
        name = self.objects.rolling_deployment
        dep = await self._get(f"{self._deployments}/{name}")
        if dep is None:  # nothing rolled (yet): an empty, settled update
            return DeploymentStatus(
                name=name,
                version=None,
                previous=None,
                paused=False,
                replicas=0,
                updated=0,
                ready=0,
                complete=True,
            )
        spec, status = dep["spec"], dep.get("status", {})
        replicas = int(spec.get("replicas", 1))
        updated = int(status.get("updatedReplicas", 0))
        ready = int(status.get("readyReplicas", 0))
        observed = status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 0)
        version = template_version(dep)
        pods = await self._list(self._pods, {"app": self.config.app, TRACK_LABEL: "rolling"})
        updated_ready = sum(
            1
            for pod in pods
            if _pod_version(pod) == version
            and "deletionTimestamp" not in pod["metadata"]
            and _pod_ready(pod)
        )
        return DeploymentStatus(
            name=name,
            version=version,
            previous=(dep["metadata"].get("annotations") or {}).get(PREVIOUS_ANNOTATION),
            paused=bool(spec.get("paused", False)),
            replicas=replicas,
            updated=updated,
            ready=ready,
            updated_ready=updated_ready,
            complete=observed
            and updated == replicas
            and ready == replicas
            and int(status.get("replicas", 0)) == replicas,
        )

    async def _stop_rolling(self, version: str) -> None:
        """Scaling a version to 0 also stops the native rolling Deployment when it runs
        that version (a first release that failed has no previous version to undo to)."""
        path = f"{self._deployments}/{self.objects.rolling_deployment}"
        current = await self._get(path)
        if (
            current is not None
            and template_version(current) == version
            and current["spec"].get("replicas", 1) != 0
        ):
            await self._call("PATCH", path, {"spec": {"replicas": 0}})

    async def _set_paused(self, paused: bool) -> None:
        path = f"{self._deployments}/{self.objects.rolling_deployment}"
        current = await self._get(path)
        if current is None:
            return  # nothing rolls: nothing to pause or resume
        if bool(current["spec"].get("paused", False)) != paused:
            await self._call("PATCH", path, {"spec": {"paused": paused}})

    async def _managed(self) -> list[dict[str, Any]]:
        """Every Deployment watchstander manages for the app: version and replicas."""
        selector = {"app": self.config.app, **MANAGED_BY}
        out = []
        for dep in await self._list(self._deployments, selector):
            version = template_version(dep)
            if version is not None:
                rolling = dep["metadata"]["name"] == self.objects.rolling_deployment
                replicas = int(dep["spec"].get("replicas", 1))
                out.append({"version": version, "replicas": replicas, "rolling": rolling})
        return out

    async def _ensure_service(
        self, selector: dict[str, str], weights: Mapping[str, float] | None
    ) -> None:
        name = self.config.service
        annotations = {} if weights is None else {WEIGHTS_ANNOTATION: dump_weights(weights)}
        current = await self._get(f"{self._services}/{name}")
        if current is None:
            await self._create(self._services, self.objects.service(name, selector, annotations))
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

    async def _ensure_version_service(self, version: str) -> None:
        name = self.objects.version_service(version)
        if await self._get(f"{self._services}/{name}") is None:
            selector = {"app": self.config.app, "version": label_value(version)}
            body = self.objects.service(name, selector, {VERSION_ANNOTATION: version})
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
            new_rules = self.objects.rules(rules, weights or {}, preview or {}, set_weights=weights)
            if new_rules == rules:
                return
            patch = {
                "metadata": {"resourceVersion": route["metadata"]["resourceVersion"]},
                "spec": {"rules": new_rules},
            }
            try:
                await self._call("PATCH", self._route, patch)
                return
            except HttpError as exc:
                if exc.code != 409 or attempt == 2:
                    raise

    # -- reading state -----------------------------------------------------------------

    async def _weights(
        self, known: set[str], instances: tuple[InstanceState, ...]
    ) -> dict[str, float]:
        if self._gateway:
            route = await self._get(self._route)
            rules = (route or {}).get("spec", {}).get("rules") or []
            main = [r for r in rules if preview_version(r) is None]
            by_service = {self.objects.version_service(v): v for v in known}
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
            by_label = {label_value(v): v for v in known}
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
        version = _pod_version(pod)
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
                    last_finish = parse_time(terminated.get("finishedAt")) or last_finish
            waiting = (c.get("state") or {}).get("waiting") or {}
            crash_loop = crash_loop or waiting.get("reason") == "CrashLoopBackOff"
        running = status.get("phase") == "Running" and any(
            "running" in (c.get("state") or {}) for c in containers
        )
        ready = _pod_ready(pod)
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
            started_at=parse_time(status.get("startTime")),
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


def _pod_version(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    found = (meta.get("annotations") or {}).get(VERSION_ANNOTATION)
    return str(found or (meta.get("labels") or {}).get("version", "?"))


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )
