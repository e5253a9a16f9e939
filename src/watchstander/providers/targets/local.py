"""LocalTarget: the Target protocol over the local data plane's admin API.

Every action maps to one idempotent admin call (PUT /versions/{v}, PUT /weights), so the
engine may repeat any of them after a crash. Connection failures become a DataPlaneError
that tells the user how to start the daemon; refusals (HTTP 4xx) carry the daemon's own
message. Pass `transport=` (e.g. httpx.MockTransport) to test without a daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import httpx

from watchstander.config.models import LocalTargetConfig
from watchstander.errors import DataPlaneError
from watchstander.providers.targets.base import Capability, Endpoint, InstanceState, TargetState

__all__ = ["LocalTarget", "VERSION_HEADER"]

VERSION_HEADER = "X-Watchstander-Version"
_INSTANCE_FIELDS = frozenset(f.name for f in fields(InstanceState))


class LocalTarget:
    """Drives the local data plane daemon (`watchstander dataplane up`)."""

    capabilities: frozenset[Capability] = frozenset(
        {
            Capability.WEIGHTED_TRAFFIC,
            Capability.INSTANT_SWITCH,
            Capability.SCALE,
            Capability.HEADER_ROUTING,
            Capability.DRAIN,
        }
    )

    def __init__(
        self,
        config: LocalTargetConfig,
        *,
        service: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.service = service
        self._client = httpx.AsyncClient(
            base_url=f"http://{config.admin}", transport=transport, timeout=timeout
        )

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                raise DataPlaneError(
                    f"data plane at {self.config.admin} is not running "
                    "(start it with 'watchstander dataplane up')"
                ) from exc
            raise DataPlaneError(
                f"data plane at {self.config.admin} failed {method} {path}: {exc!r}"
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            reason = data.get("error") if isinstance(data, dict) else None
            raise DataPlaneError(
                f"data plane refused {method} {path}: {reason or response.reason_phrase}"
            )
        return data

    async def ping(self) -> None:
        identity = await self._call("GET", "/healthz")
        served = identity.get("service") if isinstance(identity, dict) else None
        if served != self.service:
            raise DataPlaneError(
                f"data plane at {self.config.admin} serves {served!r}, not {self.service!r}"
            )

    async def scale(self, version: str, replicas: int) -> None:
        await self._call("PUT", f"/versions/{version}", {"replicas": replicas})

    async def set_weights(self, weights: Mapping[str, float]) -> None:
        await self._call("PUT", "/weights", {"weights": dict(weights)})

    async def state(self) -> TargetState:
        data = await self._call("GET", "/state")
        try:
            return _target_state(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataPlaneError(
                f"data plane at {self.config.admin} sent an unreadable /state: {exc!r}"
            ) from exc

    def endpoint(self, version: str | None = None) -> Endpoint:
        return Endpoint(
            url=f"http://{self.config.listen}",
            headers={VERSION_HEADER: version} if version else {},
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _target_state(data: Any) -> TargetState:
    instances = tuple(
        InstanceState(
            **{
                **{k: v for k, v in raw.items() if k in _INSTANCE_FIELDS},
                "restart_times": tuple(raw.get("restart_times") or ()),
            }
        )
        for raw in data.get("instances", [])
    )
    return TargetState(
        instances=instances,
        weights={str(k): float(v) for k, v in data.get("weights", {}).items()},
        observed_at=float(data["observed_at"]),
        desired_replicas={str(k): int(v) for k, v in data.get("desired_replicas", {}).items()},
    )
