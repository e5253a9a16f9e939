"""The objects KubernetesTarget reads and writes, as plain dicts: names, labels and
annotations, the bodies it creates, the HTTPRoute rules it computes, and the pod fields it
turns into an InstanceState. No IO here."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watchstander.config.kubernetes import KubernetesTargetConfig

__all__ = [
    "VERSION_HEADER",
    "VERSION_ANNOTATION",
    "WEIGHTS_ANNOTATION",
    "PREVIOUS_ANNOTATION",
    "MANAGED_BY",
    "TRACK_LABEL",
    "Objects",
    "replica_split",
    "dns_name",
    "label_value",
    "template_version",
    "preview_version",
    "dump_weights",
]

VERSION_HEADER = "X-Watchstander-Version"
VERSION_ANNOTATION = "watchstander.io/version"
WEIGHTS_ANNOTATION = "watchstander.io/weights"
PREVIOUS_ANNOTATION = "watchstander.io/previous-version"
MANAGED_BY = {"app.kubernetes.io/managed-by": "watchstander"}
TRACK_LABEL = "watchstander.io/track"  # "rolling" on the Deployment-native rolling pods


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


def dns_name(version: str) -> str:
    return re.sub(r"[^a-z0-9.-]", "-", version.lower()).strip(".-") or "v"


def label_value(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", version)[:63].strip("._-") or "v"


class Objects:
    """Names and bodies of the objects for one config."""

    def __init__(self, config: KubernetesTargetConfig) -> None:
        self.config = config

    @property
    def rolling_deployment(self) -> str:
        """The one Deployment of the native rolling update."""
        return self.config.app

    def deployment_name(self, version: str) -> str:
        return f"{self.config.app}-{dns_name(version)}"

    def version_service(self, version: str) -> str:
        return f"{self.config.service}-{dns_name(version).replace('.', '-')}"[:63].rstrip("-")

    def pod_template(self, version: str, *, rolling: bool) -> dict[str, Any]:
        health = self.config.health
        labels = {"app": self.config.app, "version": label_value(version)}
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

    def deployment(self, version: str, replicas: int, *, rolling: bool = False) -> dict[str, Any]:
        app = self.config.app
        if rolling:
            name, selector = app, {"app": app, TRACK_LABEL: "rolling"}
            labels = {"app": app, **MANAGED_BY}
        else:
            name, selector = (
                self.deployment_name(version),
                {"app": app, "version": label_value(version)},
            )
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
                "template": self.pod_template(version, rolling=rolling),
            },
        }

    def rolling_strategy(
        self, max_surge: int | None, max_unavailable: int | None
    ) -> dict[str, Any] | None:
        """The Deployment's RollingUpdate strategy for these limits (None: leave it)."""
        if max_surge is None and max_unavailable is None:
            return None
        return {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": max_surge if max_surge is not None else 0,
                "maxUnavailable": max_unavailable if max_unavailable is not None else 0,
            },
        }

    def template_patch(self, version: str, *, previous: str | None) -> dict[str, Any]:
        patch: dict[str, Any] = {"spec": {"template": self.pod_template(version, rolling=True)}}
        if previous is not None:
            patch["metadata"] = {"annotations": {PREVIOUS_ANNOTATION: previous}}
        return patch

    def service(
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

    def rules(
        self,
        rules: list[dict[str, Any]],
        weights: Mapping[str, float],
        preview: Mapping[str, bool],
        *,
        set_weights: Mapping[str, float] | None,
    ) -> list[dict[str, Any]]:
        previews = {v: r for r in rules if (v := preview_version(r)) is not None}
        for version, wanted in preview.items():
            if wanted:
                previews[version] = self.preview_rule(version)
            else:
                previews.pop(version, None)
        main = [r for r in rules if preview_version(r) is None]
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

    def preview_rule(self, version: str) -> dict[str, Any]:
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


def template_version(dep: dict[str, Any]) -> str | None:
    template = dep.get("spec", {}).get("template", {}).get("metadata", {})
    version = (template.get("annotations") or {}).get(VERSION_ANNOTATION)
    return str(version) if version else (template.get("labels") or {}).get("version")


def preview_version(rule: dict[str, Any]) -> str | None:
    for match in rule.get("matches") or []:
        for header in match.get("headers") or []:
            if header.get("name") == VERSION_HEADER:
                return str(header.get("value"))
    return None


def dump_weights(weights: Mapping[str, float]) -> str:
    return json.dumps({k: float(v) for k, v in sorted(weights.items())}, sort_keys=True)


def parse_time(raw: Any) -> float | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
