"""`target.type: kubernetes`: Deployments, a Service and optionally a Gateway API
HTTPRoute in one namespace, through the official client (extra `watchstander[kubernetes]`).

docs/backends/kubernetes.md explains every field and the objects watchstander creates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from watchstander.config.base import TargetCommon
from watchstander.config.duration import Seconds

__all__ = ["KubernetesTargetConfig"]

# RFC 1123 label: what Kubernetes accepts for a namespace, a Service and (after the
# version) a Deployment name prefix.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns_label(value: str, what: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} must be lowercase letters, digits and '-' "
            "(an RFC 1123 label of at most 63 characters)"
        )
    return value


class KubernetesTargetConfig(TargetCommon):
    type: Literal["kubernetes"] = "kubernetes"
    namespace: str = "default"
    kubeconfig: str | None = None  # default: $KUBECONFIG, ~/.kube/config, or in-cluster
    context: str | None = None
    app: str = Field(min_length=1)  # the app label; Deployments are named {app}-{version}
    image: str = Field(min_length=1)  # "registry.example.com/shop:{version}"
    container_port: int = Field(8080, ge=1, le=65535)
    service_name: str | None = None  # default: app
    service_port: int = Field(80, ge=1, le=65535)  # the port of Services watchstander creates
    # Canary by replica ratio behind the one Service, or by HTTPRoute backend weights.
    canary_mode: Literal["replicas", "gateway"] = "replicas"
    httproute: str | None = None  # the HTTPRoute's name when canary_mode is gateway
    # The rolling strategy: "native" moves the pod template of one Deployment named {app}
    # and lets its RollingUpdate replace the pods (pause, resume and undo on it);
    # "versions" uses a Deployment per version in batches, like the other targets.
    rolling: Literal["native", "versions"] = "native"
    timeout: Seconds = 10.0

    @field_validator("namespace", "app")
    @classmethod
    def _labels(cls, value: str) -> str:
        return _dns_label(value, "namespace/app")

    @field_validator("service_name")
    @classmethod
    def _service(cls, value: str | None) -> str | None:
        return None if value is None else _dns_label(value, "service_name")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if "{version}" not in value:
            raise ValueError("the image must contain {version}, e.g. 'registry/shop:{version}'")
        return value

    @model_validator(mode="after")
    def _route(self) -> Self:
        if self.canary_mode == "gateway" and not self.httproute:
            raise ValueError("canary_mode gateway needs httproute: the HTTPRoute's name")
        return self

    def resolved(self, root: Path) -> Self:
        path = self.kubeconfig
        if path is None or Path(path).expanduser().is_absolute():
            return self
        return self.model_copy(update={"kubeconfig": str(root / path)})

    @property
    def header_routing(self) -> bool:
        return self.canary_mode == "gateway"  # a preview rule per version on the HTTPRoute

    @property
    def native_rolling(self) -> bool:
        return self.rolling == "native"

    @property
    def service(self) -> str:
        """The name of the Service that carries the traffic."""
        return self.service_name or self.app
