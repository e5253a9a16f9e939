"""Provider registry: config `type` -> class, through entry points.

Built-in providers are registered in pyproject.toml under the groups
`watchstander.targets` and `watchstander.metrics`; a third-party package adds its own the
same way, with no change here (no hard-coded switch, unlike Argo's provider list).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from watchstander.errors import ConfigError

__all__ = ["load_provider", "available"]


def available(group: str) -> list[str]:
    return sorted(ep.name for ep in entry_points(group=group))


def load_provider(group: str, name: str) -> Any:
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    known = ", ".join(available(group)) or "none"
    raise ConfigError(f"no provider {name!r} in {group} (installed: {known})")
