"""The service lease: one process at a time drives a service's rollout.

The lease is a row in the store with a holder id (`host:pid:nonce`) and an expiry that the
holder renews while it works. Another process is refused with the holder's pid; it takes
over when the lease expires, or at once when the holder was on this host and its pid is
gone (a SIGKILLed `watchstander deploy`).
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

__all__ = ["ServiceLease", "holder_id", "lease_name", "LEASE_TTL"]

LEASE_TTL = 15.0


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_name(service: str) -> str:
    return f"rollout:{service}"


@dataclass
class ServiceLease:
    store: Store
    clock: Clock
    holder: str = field(default_factory=holder_id)
    ttl: float = LEASE_TTL
    _renewed: datetime | None = None

    def acquire(self, service: str) -> None:
        """Take the service's rollout lease, or raise ConflictError naming who has it."""
        name = lease_name(service)
        now = self.clock.now()
        if self.store.acquire_lease(name, holder=self.holder, ttl=self.ttl, now=now):
            self._renewed = now
            return
        current = self.store.lease(name)
        if current is None:
            raise ConflictError(f"could not take the rollout lease of {service}")
        host, _, rest = current.holder.partition(":")
        pid_text = rest.partition(":")[0]
        dead = host == socket.gethostname() and pid_text.isdigit() and not pid_alive(int(pid_text))
        if dead and self.store.steal_lease(
            name, holder=self.holder, ttl=self.ttl, now=now, expected_holder=current.holder
        ):
            self._renewed = now
            return
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
