"""`target.type: kubernetes`: Deployments, a Service and optionally a Gateway API
HTTPRoute in one namespace, through the official client (extra `watchstander[kubernetes]`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from watchstander.config.base import TargetCommon
from watchstander.config.duration import Seconds

__all__ = ["KubernetesTargetConfig"]


class KubernetesTargetConfig(TargetCommon):
    type: Literal["kubernetes"] = "kubernetes"
    namespace: str = "default"
    kubeconfig: str | None = None  # default: $KUBECONFIG, ~/.kube/config, or in-cluster
    context: str | None = None
    app: str = Field(min_length=1)  # the app label; Deployments are named {app}-{version}
    image: str = Field(min_length=1)  # "registry.example.com/shop:{version}"
    container_port: int = Field(8080, ge=1, le=65535)
    service_name: str | None = None  # default: app
    # Canary by replica ratio behind the one Service, or by HTTPRoute backend weights.
    canary_mode: Literal["replicas", "gateway"] = "replicas"
    httproute: str | None = None  # the HTTPRoute's name when canary_mode is gateway
    timeout: Seconds = 10.0
