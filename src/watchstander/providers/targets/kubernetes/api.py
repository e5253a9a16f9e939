"""The official Kubernetes client's REST layer behind one typed, synchronous request
function. The client is an optional extra and untyped; this is the one module that
touches it, and it turns every error into a DataPlaneError with a one-line reason."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

from watchstander.config.kubernetes import KubernetesTargetConfig
from watchstander.errors import DataPlaneError

__all__ = ["Api", "HttpError", "one_line"]

_MERGE_PATCH = "application/merge-patch+json"


class Api:
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
            raise HttpError(exc.status or 0, _reason(exc), method, path) from exc
        except Exception as exc:  # urllib3 connection and timeout errors, bad JSON
            raise DataPlaneError(
                f"Kubernetes API at {self.server} failed {method} {path}: "
                f"{type(exc).__name__}: {one_line(str(exc))}"
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api.rest_client.pool_manager.clear()
                self._api = None


class HttpError(DataPlaneError):
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
    return one_line(text)


def one_line(text: str) -> str:
    return " ".join(text.split())[:300]
