"""Gate results as JSON-able data, for the store and the reports."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

__all__ = ["to_data"]


def to_data(value: Any) -> Any:
    """Dataclasses -> dicts, enums -> their values, datetimes -> ISO text, timedeltas -> seconds, tuples and
    sets -> lists (sets sorted), non-finite floats -> None; recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return to_data(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_data(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
