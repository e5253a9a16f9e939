"""The exception tree.

    WatchstanderError                 every error this package raises on purpose
    ├── ConfigError                   watchstander.yaml is missing, unreadable or invalid (exit 2)
    ├── UsageError                    a command was called with arguments that cannot work (exit 2)
    ├── InputError                    an input file (JUnit, SARIF, checksums, ...) is malformed (exit 2)
    ├── BlockedError                  a gate stopped the deploy: NO-GO, failed staging gate (exit 3)
    ├── NotFoundError                 an unknown rollout, version or service (exit 4)
    ├── ConflictError                 another rollout or controller holds what we need (exit 5)
    ├── DataPlaneError                the data plane is down or refused an action (exit 6)
    ├── ProviderError                 a target or metric source failed an action (exit 6)
    └── StoreError                    the state store cannot be opened or migrated (exit 7)

Each class carries the process exit code the CLI uses for it, so every entry point maps
errors the same way (docs/cli.md lists them).
"""

from __future__ import annotations

__all__ = [
    "WatchstanderError",
    "ConfigError",
    "UsageError",
    "InputError",
    "BlockedError",
    "NotFoundError",
    "ConflictError",
    "DataPlaneError",
    "ProviderError",
    "StoreError",
]


class WatchstanderError(Exception):
    exit_code: int = 1


class ConfigError(WatchstanderError):
    exit_code = 2


class UsageError(WatchstanderError):
    exit_code = 2


class InputError(WatchstanderError):
    """A file the user handed us cannot be read as what it claims to be. The message
    starts with the file (and line or field when known): `results.xml:12: ...`."""

    exit_code = 2


class BlockedError(WatchstanderError):
    """A gate stopped the deploy before production was touched."""

    exit_code = 3


class NotFoundError(WatchstanderError):
    exit_code = 4


class ConflictError(WatchstanderError):
    exit_code = 5


class DataPlaneError(WatchstanderError):
    exit_code = 6


class ProviderError(WatchstanderError):
    exit_code = 6


class StoreError(WatchstanderError):
    exit_code = 7
