"""The data plane's desired state (replicas per version, traffic weights) and its file.

The daemon must come back exactly as it was after a restart or a crash, without asking
the control plane (which may be down: traffic keeps flowing at the last weights). So every
change is written to DIR/dataplane.json before it is acknowledged, atomically (a temporary
file in the same directory, fsync, os.replace): a reader sees the old or the new file,
never half of one. Validation of what the admin API accepts lives here too, next to the
data it guards, so the daemon and its clients agree on the rules.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "STATE_FILE",
    "PID_FILE",
    "LOG_FILE",
    "VERSION_PATTERN",
    "DesiredState",
    "validate_version",
    "validate_weights",
    "load_state",
    "save_state",
]

STATE_FILE = "dataplane.json"
PID_FILE = "dataplane.pid"
LOG_FILE = "dataplane.log"
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_WEIGHT_TOLERANCE = 0.01

log = logging.getLogger(__name__)


@dataclass
class DesiredState:
    """What the operator asked for; the supervisor and router converge on it."""

    service: str
    replicas: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "replicas": dict(sorted(self.replicas.items())),
            "weights": dict(sorted(self.weights.items())),
            "updated_at": time.time(),
        }


def validate_version(version: str) -> str:
    """A version is used in URLs, argv and file names: keep it to a safe alphabet."""
    if not VERSION_PATTERN.fullmatch(version):
        raise ValueError(
            f"{version!r} is not a valid version (letters, digits and . _ + -, at most 64)"
        )
    return version


def validate_weights(raw: Any) -> dict[str, float]:
    """Percent per version, each 0..100, summing to 100; raises ValueError saying why."""
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError('weights must be a non-empty object such as {"1.0.0": 95, "1.1.0": 5}')
    weights: dict[str, float] = {}
    for version, value in raw.items():
        validate_version(str(version))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"weight of {version!r} must be a number, not {value!r}")
        if not 0 <= value <= 100:
            raise ValueError(f"weight of {version!r} must be between 0 and 100, not {value}")
        weights[str(version)] = float(value)
    total = sum(weights.values())
    if abs(total - 100.0) > _WEIGHT_TOLERANCE:
        parts = " + ".join(f"{v}={w:g}" for v, w in weights.items())
        raise ValueError(f"weights must sum to 100, got {parts} = {total:g}")
    return weights


def load_state(state_dir: Path, service: str) -> DesiredState:
    """The saved desired state, or an empty one (first start, or another service's file)."""
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DesiredState(service)
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return DesiredState(service)
    if data.get("service") != service:
        log.warning(
            "ignoring %s: it belongs to service %r, not %r", path, data.get("service"), service
        )
        return DesiredState(service)
    state = DesiredState(service)
    for version, n in (data.get("replicas") or {}).items():
        try:
            state.replicas[validate_version(version)] = max(0, int(n))
        except (TypeError, ValueError) as exc:
            log.warning("ignoring saved replicas of %r: %s", version, exc)
    try:
        if data.get("weights"):
            state.weights = validate_weights(data["weights"])
    except ValueError as exc:
        log.warning("ignoring saved weights: %s", exc)
    return state


def save_state(state_dir: Path, state: DesiredState) -> None:
    path = state_dir / STATE_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state.to_json(), handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
