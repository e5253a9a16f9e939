"""Small helpers the JSON readers share: how a value is described in an error message,
and refusing the non-standard constants (NaN, Infinity) Python's json would accept."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["kind", "reject_constant"]


def reject_constant(name: str) -> Any:
    """`parse_constant` for json.loads: NaN and Infinity are not JSON."""
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def kind(value: object) -> str:
    """How a JSON value is described in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
