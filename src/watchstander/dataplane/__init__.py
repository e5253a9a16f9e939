"""The local data plane: a weighted HTTP router daemon with supervised replica processes.

    daemon.py      start / stop / status for the CLI (find the daemon through its pid file)
    __main__.py    the daemon's entry point: bind, detach, run
    server.py      DataPlane: wires the pieces below and serves router and admin ports
    supervisor.py  replica processes: health, restarts with backoff, OOM kills, drain
    router.py      weighted version choice, proxying with retries, preview header
    stats.py       per-version per-second stats for any window; latency quantiles
    admin.py       the JSON admin API and /metrics
    state.py       desired state (replicas, weights) saved atomically in dataplane.json

The daemon never needs the control plane: it keeps serving at the last weights when
watchstander is gone, and comes back with the same desired state after a restart.
Importing this package is cheap (no aiohttp): the CLI only needs daemon.py.
"""

from watchstander.dataplane.daemon import running_pid, start, status, stop

__all__ = ["start", "stop", "status", "running_pid"]
