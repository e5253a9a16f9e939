"""Write the demo's workspace: watchstander.yaml, the fault profile, a README.

The demo service's behaviour per version comes from faults.json, so the same command runs
a healthy v1.0.0, a slow and failing v1.1.0, a healthy v1.2.0 and a crash-looping v1.3.0.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
from pathlib import Path

__all__ = ["FAULTS", "write_demo", "free_port"]

FAULTS: dict[str, dict[str, float]] = {
    "1.0.0": {},
    "1.1.0": {"error_rate": 0.05, "latency_ms": 150},
    "1.2.0": {},
    "1.3.0": {"crash_after": 0.6},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(workdir: Path, listen: int, admin: int, staging_listen: int, staging_admin: int) -> str:
    python = json.dumps(sys.executable)
    faults = json.dumps(str(workdir / "faults.json"))
    return f"""\
# The watchstander demo: a sample service with one fault profile per version (faults.json).
# Drive it by hand:  watchstander -C {workdir} dataplane up
#                    watchstander -C {workdir} deploy 1.0.0 --yes
#                    watchstander -C {workdir} deploy 1.1.0 --strategy canary --yes
service:
  name: demo
target:
  type: local
  listen: 127.0.0.1:{listen}
  admin: 127.0.0.1:{admin}
  command: [{python}, "-m", "watchstander.demo.service", "--port", "{{port}}", "--version", "{{version}}", "--faults", {faults}]
  replicas: 3
  versions: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
  health:
    path: /health
    interval: 200ms
    timeout: 500ms
    failure_threshold: 2
  ready_timeout: 20s
  restart_backoff: 200ms
  restart_backoff_max: 2s
  drain_timeout: 5s
strategy:
  default: canary
  canary:
    steps: [5, 25, 50, 100]
  blue_green:
    scale_down_delay: 3s
  rolling:
    batch_size: 1
    max_unavailable: 0
  observation: 9s
analysis:
  interval: 3s
  window: 10s
  count: 2
  min_requests: 10
rollback:
  verify_window: 4s
  triggers:
    latency_p99_min_increase_ms: 50
    restart_window: 60s
smoke:
  - name: health endpoint
    type: http
    path: /health
    expect_status: 200
    max_latency_ms: 1000
  - name: serves the expected version
    type: http
    path: /version
    json_field: version
    json_equals: "{{version}}"
slos:
  - name: p99 under 1 s
    metric: latency_p99
    max: 1000
  - name: availability
    metric: error_rate
    max: 0.05                      # judged at every step; budget: 99% of requests succeed
    objective: 99
slo_monitoring:
  resolution: 10s                  # short buckets: the demo lasts a minute or two
  snapshot_every: 60s
# A second local data plane is staging: the staging regression gate deploys there first.
staging:
  target:
    type: local
    listen: 127.0.0.1:{staging_listen}
    admin: 127.0.0.1:{staging_admin}
    command: [{python}, "-m", "watchstander.demo.service", "--port", "{{port}}", "--version", "{{version}}", "--faults", {faults}]
    replicas: 2
    versions: ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    health:
      path: /health
      interval: 200ms
      timeout: 500ms
      failure_threshold: 2
    ready_timeout: 8s
    restart_backoff: 200ms
    drain_timeout: 2s
  settle: 1s
  window: 4s
regression:
  threshold: 0
  suite:
    command: [{python}, "-m", "watchstander.demo.suite", "--url", "{{url}}", "--junit", "{{junit}}"]
    timeout: 60s
  journeys:
    - name: place an order
      type: http
      path: /work
      max_latency_ms: 120
  tolerances:
    latency_ms: 50
readiness:
  approvals: [release-manager]
  rollback_plan: ["rollback-plan.md"]
  checksums: artifacts/{{version}}/SHA256SUMS
"""


def write_demo(workdir: Path, *, listen: int | None = None, admin: int | None = None) -> Path:
    """Create (or refresh) the demo workspace; returns the config path."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "faults.json").write_text(json.dumps(FAULTS, indent=2) + "\n", encoding="utf-8")
    _artifacts(workdir)
    (workdir / "rollback-plan.md").write_text(ROLLBACK_PLAN, encoding="utf-8")
    path = workdir / "watchstander.yaml"
    path.write_text(
        _config(workdir, listen or free_port(), admin or free_port(), free_port(), free_port()),
        encoding="utf-8",
    )
    return path


ROLLBACK_PLAN = """\
# Rollback plan: demo

- Strategy: canary abort / blue-green switch back / rolling undo, run by watchstander
  automatically when a trigger or the production regression gate fires.
- Manual: `watchstander rollout abort` (in progress) or `watchstander rollout undo` (done).
- Rollback SLO: all traffic back on the previous version within 1 minute.
- Drill: `watchstander rollback drill --version NEW` on staging, at least weekly.
- Communication: the stakeholder notification in .aiwg/working/deployment/.
"""


def _artifacts(workdir: Path) -> None:
    """One release artifact per version, with its sha256 checksum file."""
    for version in FAULTS:
        folder = workdir / "artifacts" / version
        folder.mkdir(parents=True, exist_ok=True)
        artifact = folder / f"demo-{version}.tar"
        artifact.write_bytes(f"demo service {version}\n".encode() * 64)
        digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
        (folder / "SHA256SUMS").write_text(f"{digest}  {artifact.name}\n", encoding="utf-8")
