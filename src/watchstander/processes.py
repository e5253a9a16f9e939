"""Process facts shared by the lease (is its holder still alive?), the data plane daemon
(is the pid file's process still ours?) and tests."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child its parent has not reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False  # gone between the two looks
    except OSError:
        return True  # no /proc here: kill(0) is all we can know
    try:
        return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}
    except IndexError:
        return True
