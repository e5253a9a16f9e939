"""HaproxyTarget: the Target protocol over an existing HAProxy's runtime API.

- **Traffic**: a version's percent is split evenly over its servers as HAProxy server
  weights (0..256, `set server B/S weight W`); weights that grow are set before weights
  that shrink, so the backend never has all weights at 0 in between. Nothing is reloaded:
  HAProxy applies a weight to the next request, and open connections are untouched.
- **Instances**, two modes (config/haproxy.py): with `command`, watchstander starts each
  instance as a detached process (haproxy_instances.py records it on disk) and adds it as
  a dynamic server (`add server`, in maintenance), probes its health path itself, and
  only then sets it ready: HAProxy never sends a request to an instance that is not up.
  With `servers`, the servers exist in haproxy.cfg and scaling sets them ready or drains
  them and puts them in maintenance. Scaling down always drains first: weight 0 and state
  drain, wait until the server's sessions end (up to drain_timeout), then maint (and, for
  started instances, `del server` and SIGTERM).
- **State** comes from `show stat`: status (UP, DOWN, "UP 1/3" going down, DRAIN, MAINT),
  the runtime weight, check_status and chkfail per server, mapped onto InstanceState. The
  percents reported are the ones last applied when HAProxy's weights still match them,
  and otherwise what HAProxy's weights mean now.

Every action is idempotent: scale() converges on the recorded and observed state (it
finishes a drain a dead controller left half done), set_weights() only sends the weights
that differ. Failures are DataPlaneError with one line naming the socket and command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from watchstander.config.haproxy import HaproxyTargetConfig, check_name
from watchstander.dataplane.state import validate_weights
from watchstander.dataplane.supervisor import free_port
from watchstander.errors import DataPlaneError
from watchstander.providers.targets import haproxy_instances as instances
from watchstander.providers.targets import haproxy_runtime as runtime
from watchstander.providers.targets.base import Capability, Endpoint, InstanceState, TargetState

__all__ = ["HaproxyTarget", "VERSION_HEADER"]

VERSION_HEADER = "X-Watchstander-Version"
_POLL_S = 0.05


class HaproxyTarget:
    """Drives one backend of an existing HAProxy; see the module docstring."""

    capabilities: frozenset[Capability] = frozenset(
        {Capability.WEIGHTED_TRAFFIC, Capability.INSTANT_SWITCH, Capability.SCALE, Capability.DRAIN}
    )

    def __init__(
        self, config: HaproxyTargetConfig, *, service: str, workdir: Path | None = None
    ) -> None:
        self.config = config
        self.service = service
        self.root = workdir if workdir is not None else Path.cwd()
        api = runtime.parse_address(config.runtime_api)
        if api.path is not None and not os.path.isabs(api.path):
            api = runtime.RuntimeApi(path=str(self.root / api.path))
        self.api = api
        self.state_path = self.root / config.state_dir / f"{service}.json"
        self._lock = asyncio.Lock()

    # -- runtime API -------------------------------------------------------------------

    async def _cmd(self, command: str) -> str:
        return await runtime.run_command(self.api, command, timeout=self.config.timeout)

    async def _stats(self) -> dict[str, runtime.ServerStat]:
        text = await self._cmd(f"show stat {self.config.backend} 4 -1")
        try:
            rows = runtime.parse_stat(text, self.config.backend)
        except ValueError as exc:
            raise DataPlaneError(
                f"HAProxy runtime API {self.api}: unreadable show stat: {exc}"
            ) from None
        return {row.server: row for row in rows}

    def _server(self, name: str) -> str:
        return f"{self.config.backend}/{name}"

    def _record(self) -> instances.Record:
        return instances.load(self.state_path, service=self.service, backend=self.config.backend)

    def _save(self, record: instances.Record) -> None:
        instances.save(self.state_path, record)

    # -- the Target protocol -----------------------------------------------------------

    async def ping(self) -> None:
        stats = await self._stats()
        missing = [
            name for names in self.config.servers.values() for name in names if name not in stats
        ]
        if missing:
            raise DataPlaneError(
                f"HAProxy backend {self.config.backend} has no server {', '.join(missing)} "
                f"(runtime API {self.api})"
            )

    async def scale(self, version: str, replicas: int) -> None:
        try:
            check_name("version", version)
        except ValueError as exc:
            raise DataPlaneError(str(exc)) from None
        if replicas < 0:
            raise DataPlaneError(f"cannot scale {version} to {replicas} instances")
        async with self._lock:
            if self.config.command is None:
                await self._scale_servers(version, replicas)
            else:
                await self._scale_instances(version, replicas)

    async def set_weights(self, weights: Mapping[str, float]) -> None:
        try:
            wanted = validate_weights(weights)
        except ValueError as exc:
            raise DataPlaneError(f"HAProxy target refused weights: {exc}") from None
        async with self._lock:
            record = self._record()
            stats = await self._stats()
            pools = self._pools(record, stats)
            empty = [v for v, pct in wanted.items() if pct > 0 and not pools.get(v)]
            if empty:
                raise DataPlaneError(
                    f"no ready server of {', '.join(empty)} in backend {self.config.backend} "
                    "to take traffic (scale it first)"
                )
            await self._apply(wanted, pools, stats)
            record.weights = wanted
            self._save(record)

    async def state(self) -> TargetState:
        record = self._record()
        stats = await self._stats()
        now = time.time()
        if self.config.command is None:
            found = self._server_states(stats)
            desired = {
                v: sum(1 for i in found if i.version == v and not i.draining)
                for v in self.config.servers
            }
        else:
            found = [self._instance_state(i, stats.get(i.server)) for i in record.instances]
            desired = {v: len([i for i in record.of(v) if not i.draining]) for v in record.serial}
        return TargetState(
            instances=tuple(found),
            weights=self._weights(record, stats),
            observed_at=now,
            desired_replicas={v: n for v, n in desired.items() if n},
        )

    def endpoint(self, version: str | None = None) -> Endpoint:
        return Endpoint(
            url=f"http://{self.config.listen}",
            headers={VERSION_HEADER: version} if version else {},
        )

    async def aclose(self) -> None:
        return None  # one connection per command: nothing held open

    # -- weights -------------------------------------------------------------------------

    def _pools(
        self, record: instances.Record, stats: Mapping[str, runtime.ServerStat]
    ) -> dict[str, list[str]]:
        """Servers per version that may carry traffic: present, not draining, not in maint."""

        def routable(name: str) -> bool:
            stat = stats.get(name)
            return stat is not None and not stat.in_maintenance and not stat.draining

        if self.config.command is None:
            return {
                v: [n for n in names if routable(n)] for v, names in self.config.servers.items()
            }
        pools: dict[str, list[str]] = {}
        for instance in record.instances:
            if not instance.draining and routable(instance.server):
                pools.setdefault(instance.version, []).append(instance.server)
        return pools

    def _all_servers(self, record: instances.Record) -> list[str]:
        if self.config.command is None:
            return [n for names in self.config.servers.values() for n in names]
        return [i.server for i in record.instances]

    async def _apply(
        self,
        weights: Mapping[str, float],
        pools: Mapping[str, Sequence[str]],
        stats: Mapping[str, runtime.ServerStat],
        *,
        others: Sequence[str] = (),
    ) -> None:
        """Set server weights for `weights`; servers outside `pools` (and `others`) get 0.
        Growing weights first, so the backend always has somewhere to send requests."""
        target = runtime.server_weights(weights, pools)
        for name in others:
            target.setdefault(name, 0)
        changes = [
            (name, w) for name, w in target.items() if name in stats and stats[name].weight != w
        ]
        changes.sort(key=lambda c: c[1] <= stats[c[0]].weight)  # increases first
        for name, weight in changes:
            await self._cmd(f"set server {self._server(name)} weight {weight}")

    def _weights(
        self, record: instances.Record, stats: Mapping[str, runtime.ServerStat]
    ) -> dict[str, float]:
        pools = self._pools(record, stats)
        if record.weights:
            expected = runtime.server_weights(record.weights, pools)
            if all(stats[n].weight == w for n, w in expected.items() if n in stats):
                return {v: w for v, w in record.weights.items() if w > 0}
        return runtime.version_weights(list(stats.values()), pools)

    # -- started instances --------------------------------------------------------------

    async def _scale_instances(self, version: str, replicas: int) -> None:
        record = self._record()
        stats = await self._stats()
        await self._finish_draining(record)
        # Instances whose process died are replaced, not counted.
        for dead in [i for i in record.of(version) if not i.draining]:
            if not instances.is_ours(dead):
                await self._remove(record, dead)
        active = [i for i in record.of(version) if not i.draining]
        started: list[instances.Instance] = []
        for _ in range(replicas - len(active)):
            started.append(await self._start(record, version))
        # Added earlier but never made ready (a controller died while probing): finish.
        stats = await self._stats()
        pending = [
            i for i in active + started if i.server not in stats or stats[i.server].in_maintenance
        ]
        for instance in pending:
            if instance.server not in stats:
                await self._add_server(instance)
        await asyncio.gather(*(self._make_ready(i.server, self._address(i)) for i in pending))
        victims = sorted(active, key=lambda i: i.started_at, reverse=True)[
            : max(0, len(active) - replicas)
        ]
        if victims:
            for victim in victims:
                victim.draining = True
            self._save(record)
        await self._rebalance(record)
        if victims:
            await self._finish_draining(record)

    def _address(self, instance: instances.Instance) -> str:
        return f"{self.config.host}:{instance.port}"

    async def _start(self, record: instances.Record, version: str) -> instances.Instance:
        assert self.config.command is not None
        serial = record.serial.get(version, 0) + 1
        record.serial[version] = serial
        port = free_port(self.config.host)
        server = check_name("server", f"ws-{version.replace('+', '_')}-{serial}")
        instance_id = f"{version}-{serial}"

        def fill(text: str) -> str:
            return text.replace("{port}", str(port)).replace("{version}", version)

        argv = [fill(a) for a in self.config.command]
        env = {**os.environ, **{k: fill(v) for k, v in self.config.env.items()}}
        env.update(
            WATCHSTANDER_VERSION=version,
            WATCHSTANDER_PORT=str(port),
            WATCHSTANDER_INSTANCE=instance_id,
        )
        cwd = self.root / (self.config.cwd or ".")
        log = self.state_path.parent / "logs" / f"{self.service}-{version}.log"
        pid = await instances.launch(argv, cwd=cwd, env=env, log=log)
        instance = instances.Instance(
            id=instance_id,
            version=version,
            server=server,
            port=port,
            pid=pid,
            argv=argv,
            started_at=time.time(),
        )
        record.instances.append(instance)
        self._save(record)  # recorded before HAProxy knows it: a later run can find it
        await self._add_server(instance)
        return instance

    async def _add_server(self, instance: instances.Instance) -> None:
        health = self.config.health
        await self._cmd(
            f"add server {self._server(instance.server)} {self._address(instance)} weight 0 "
            f"check inter {max(1, round(health.interval * 1000))}ms "
            f"rise {health.success_threshold} fall {health.failure_threshold}"
        )
        await self._cmd(f"enable health {self._server(instance.server)}")

    async def _remove(self, record: instances.Record, instance: instances.Instance) -> None:
        """Out of HAProxy (maint, del server), then the process stopped, then forgotten."""
        stats = await self._stats()
        if instance.server in stats:
            await self._cmd(f"set server {self._server(instance.server)} state maint")
            await self._cmd(f"del server {self._server(instance.server)}")
        await instances.terminate(instance)
        record.instances = [i for i in record.instances if i.id != instance.id]
        self._save(record)

    async def _finish_draining(self, record: instances.Record) -> None:
        draining = [i for i in record.instances if i.draining]
        if not draining:
            return
        stats = await self._stats()
        for instance in draining:
            if instance.server in stats:
                await self._cmd(f"set server {self._server(instance.server)} weight 0")
                await self._cmd(f"set server {self._server(instance.server)} state drain")
        await self._wait_idle([i.server for i in draining])
        for instance in draining:
            await self._remove(record, instance)

    # -- pre-existing servers ----------------------------------------------------------

    async def _scale_servers(self, version: str, replicas: int) -> None:
        names = self.config.servers.get(version)
        if names is None:
            raise DataPlaneError(
                f"no servers listed for {version} under target.servers "
                f"(known: {', '.join(self.config.servers) or 'none'})"
            )
        if replicas > len(names):
            raise DataPlaneError(
                f"{version} has {len(names)} server(s) in backend {self.config.backend}, "
                f"cannot run {replicas}"
            )
        stats = await self._stats()
        missing = [n for n in names if n not in stats]
        if missing:
            raise DataPlaneError(
                f"HAProxy backend {self.config.backend} has no server {', '.join(missing)}"
            )
        keep, stop = names[:replicas], names[replicas:]
        to_ready = [n for n in keep if stats[n].in_maintenance or stats[n].draining]
        for name in to_ready:
            await self._cmd(f"set server {self._server(name)} weight 0")
        await asyncio.gather(*(self._make_ready(n, stats[n].address) for n in to_ready))
        to_stop = [n for n in stop if not stats[n].in_maintenance]
        for name in to_stop:
            await self._cmd(f"set server {self._server(name)} weight 0")
            await self._cmd(f"set server {self._server(name)} state drain")
        await self._rebalance(self._record())
        if to_stop:
            await self._wait_idle(to_stop)
            for name in to_stop:
                await self._cmd(f"set server {self._server(name)} state maint")

    def _server_states(self, stats: Mapping[str, runtime.ServerStat]) -> list[InstanceState]:
        found = []
        for version, names in self.config.servers.items():
            for name in names:
                stat = stats.get(name)
                if stat is None or stat.in_maintenance:
                    continue
                found.append(self._from_stat(name, version, stat.address, stat, running=True))
        return found

    # -- shared ------------------------------------------------------------------------

    async def _rebalance(self, record: instances.Record) -> None:
        """Re-apply the last percents over the servers that exist now."""
        stats = await self._stats()
        pools = self._pools(record, stats)
        weights = {v: w for v, w in record.weights.items() if pools.get(v)}
        if sum(weights.values()) > 0:
            await self._apply(weights, pools, stats, others=self._all_servers(record))

    async def _make_ready(self, name: str, address: str) -> None:
        """Probe the instance's health path directly; set it ready once it answers."""
        health = self.config.health
        url = f"http://{address}{health.path}"
        deadline = time.monotonic() + self.config.ready_timeout
        async with httpx.AsyncClient(timeout=health.timeout) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code < 400:
                        break
                if time.monotonic() >= deadline:
                    return  # stays in maintenance: state() shows it not ready
                await asyncio.sleep(_POLL_S)
        await self._cmd(f"set server {self._server(name)} state ready")

    async def _wait_idle(self, names: Sequence[str]) -> None:
        deadline = time.monotonic() + self.config.drain_timeout
        while time.monotonic() < deadline:
            stats = await self._stats()
            if all(stats[n].current_sessions == 0 for n in names if n in stats):
                return
            await asyncio.sleep(_POLL_S)

    def _instance_state(
        self, instance: instances.Instance, stat: runtime.ServerStat | None
    ) -> InstanceState:
        running = instances.is_ours(instance)
        state = self._from_stat(
            instance.id, instance.version, self._address(instance), stat, running=running
        )
        return InstanceState(
            id=state.id,
            version=state.version,
            address=state.address,
            running=running,
            ready=state.ready and running and not instance.draining,
            draining=state.draining or instance.draining,
            health_failures=state.health_failures,
            started_at=instance.started_at,
        )

    def _from_stat(
        self,
        name: str,
        version: str,
        address: str,
        stat: runtime.ServerStat | None,
        *,
        running: bool,
    ) -> InstanceState:
        fall = self.config.health.failure_threshold
        if stat is None:
            return InstanceState(
                id=name, version=version, address=address, running=running, ready=False
            )
        return InstanceState(
            id=name,
            version=version,
            address=address,
            running=running,
            ready=stat.up and not stat.draining and not stat.in_maintenance,
            draining=stat.draining,
            health_failures=runtime.health_failures(stat.status, fall),
        )
