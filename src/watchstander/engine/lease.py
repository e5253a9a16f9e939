"""Leases: exactly one process at a time acts on a thing (a rollout, a service's timers).

A lease is a row in the store with a holder id (`host:pid:nonce`) and an expiry that the
holder renews while it works. Names say what is owned:

- `rollout:<service>`: driving the service's active rollout (`deploy`, `rollout resume`,
  or a `watch` controller that adopted it);
- `slo:<service>`, `incidents:<service>`, `hypercare:<service>`: the SLO monitor tick, the
  incident desk tick (escalation timers, the outbox) and the hypercare tick of `watch`, so
  that with several controllers on one database each timer fires once.

Another process is refused while the lease is held; it takes over when the lease expires
(the holder stopped renewing: it died, hung, or lost the database), or at once when the
holder was on this host and its pid is gone (a SIGKILLed process).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from watchstander.clock import Clock
from watchstander.errors import ConflictError
from watchstander.processes import pid_alive
from watchstander.store.repository import Store

__all__ = [
    "ServiceLease",
    "Taken",
    "holder_id",
    "lease_name",
    "tick_lease_name",
    "holder_gone",
    "LEASE_TTL",
]

LEASE_TTL = 15.0


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_name(service: str) -> str:
    return f"rollout:{service}"


def tick_lease_name(kind: str, service: str) -> str:
    """`slo:<service>`, `incidents:<service>` or `hypercare:<service>`."""
    return f"{kind}:{service}"


def holder_gone(holder: str) -> bool:
    """True when `holder` ran on this host and its process no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    return host == socket.gethostname() and pid_text.isdigit() and not pid_alive(int(pid_text))


@dataclass(frozen=True)
class Taken:
    """A lease just taken: from whom (None when it was free or already ours) and why we
    could take it ("free", "ours", "expired", "holder gone")."""

    name: str
    previous: str | None
    reason: str


@dataclass
class ServiceLease:
    store: Store
    clock: Clock
    holder: str = field(default_factory=holder_id)
    ttl: float = LEASE_TTL
    _renewed: datetime | None = None

    # -- any lease by name -------------------------------------------------------------

    def take(self, name: str) -> Taken | None:
        """Take the lease `name` if it is free, ours, expired, or its holder is gone;
        None while someone else holds it."""
        now = self.clock.now()
        current = self.store.lease(name)
        if current is None or current.holder == self.holder or current.expires_at < now:
            if not self.store.acquire_lease(name, holder=self.holder, ttl=self.ttl, now=now):
                return None  # someone else got there first
            if current is None:
                return Taken(name, None, "free")
            if current.holder == self.holder:
                return Taken(name, None, "ours")
            return Taken(name, current.holder, "expired")
        if holder_gone(current.holder) and self.store.steal_lease(
            name, holder=self.holder, ttl=self.ttl, now=now, expected_holder=current.holder
        ):
            return Taken(name, current.holder, "holder gone")
        return None

    def keep(self, name: str) -> bool:
        """Extend the lease now; False when it is no longer ours (stop acting on it)."""
        return self.store.renew_lease(name, holder=self.holder, ttl=self.ttl, now=self.clock.now())

    def give_up(self, name: str) -> None:
        """Release the lease so another process can take it at once."""
        self.store.release_lease(name, holder=self.holder)

    # -- the rollout lease of a service ---------------------------------------------------

    def acquire(self, service: str) -> Taken:
        """Take the service's rollout lease, or raise ConflictError naming who has it."""
        name = lease_name(service)
        taken = self.take(name)
        if taken is not None:
            self._renewed = self.clock.now()
            return taken
        current = self.store.lease(name)
        if current is None:
            raise ConflictError(f"could not take the rollout lease of {service}")
        host, _, rest = current.holder.partition(":")
        pid_text = rest.partition(":")[0]
        raise ConflictError(
            f"another watchstander process (pid {pid_text or '?'} on {host}) is driving the "
            f"rollout of {service}; its lease runs until {current.expires_at:%H:%M:%S} UTC"
        )

    def renew(self, service: str) -> None:
        """Extend the lease (at most every ttl/3); ConflictError if another process took it."""
        now = self.clock.now()
        if self._renewed is not None and (now - self._renewed).total_seconds() < self.ttl / 3:
            return
        if not self.store.renew_lease(
            lease_name(service), holder=self.holder, ttl=self.ttl, now=now
        ):
            raise ConflictError(f"lost the rollout lease of {service} to another process")
        self._renewed = now

    def release(self, service: str) -> None:
        self.store.release_lease(lease_name(service), holder=self.holder)
