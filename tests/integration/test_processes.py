"""pid_alive with real processes: running, killed but not reaped (a zombie), reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.polling import wait_for
from watchstander.processes import pid_alive


async def test_running_zombie_and_reaped_processes() -> None:
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])  # noqa: S603
    try:
        assert pid_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        # Killed but not yet reaped: the pid still exists, as a zombie, and counts as dead.
        await wait_for(
            lambda: not pid_alive(child.pid), 5, message="the killed child to be seen dead"
        )
        assert os.waitpid(child.pid, os.WNOHANG)[0] == child.pid  # it really was a zombie
        child.returncode = -signal.SIGKILL
        assert not pid_alive(child.pid)
    finally:
        if child.returncode is None:
            child.kill()
            child.wait()
