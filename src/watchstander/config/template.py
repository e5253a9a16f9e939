"""The commented example `watchstander init` writes."""

from __future__ import annotations

__all__ = ["EXAMPLE_CONFIG"]

EXAMPLE_CONFIG = """\
# watchstander.yaml: how watchstander deploys, judges and rolls back this service.
# Durations accept 30s, 5m, 1h30m. Every section but service and target is optional;
# the values shown are the defaults (from the deploy flow) unless marked "example".

service:
  name: my-service                 # letters, digits, . _ -

target:
  type: local                      # the embedded data plane: router + supervised processes
  listen: 127.0.0.1:8080           # where clients connect (the router)
  admin: 127.0.0.1:8081            # the data plane's admin API and /metrics
  # The command that runs one replica; {port} and {version} are filled in per replica.
  # It is run directly, never through a shell.
  command: ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]  # example
  replicas: 3
  health:
    path: /                        # example; default /health
    interval: 1s
    timeout: 1s
    failure_threshold: 3
  ready_timeout: 60s               # progress deadline for new instances
  # memory_limit_mb: 512           # OOM-kill a replica above this resident size
  # versions: ["1.0.0", "1.1.0"]   # refuse to deploy versions not listed here

metrics:
  type: builtin                    # per-version statistics from the local router

strategy:
  # default: canary                # canary | blue-green | rolling; unset: deploy recommends one
                                   # per release (risk, rollback tolerance, migration, target)
  canary:
    steps: [5, 25, 50, 100]        # percent of traffic; analysis after each
  blue_green:
    auto_promote: true
    scale_down_delay: 30s          # keep blue this long for an instant rollback
  rolling:
    batch_size: 1
    max_unavailable: 0
    manual_gate: false
  observation: 15m                 # post-deployment window before success
  progress_deadline: 10m

analysis:
  interval: 60s                    # one measurement per interval
  window: 5m                       # looking back this far (never before the last weight change)
  count: 3                         # measurements per analysis step
  failure_limit: 0                 # FAIL when failures exceed this
  inconclusive_limit: 1            # pause for a human when inconclusives exceed this
  consecutive_error_limit: 4       # query errors in a row before the analysis errors out
  min_requests: 20                 # fewer requests in the window counts as no data
  no_data: inconclusive            # fail | inconclusive | ignore
  # metrics:                       # per-metric overrides of the settings above, by judged name:
  #   error-rate: {no_data: fail, min_requests: 100}   # error-rate, latency-p99, throughput,
  #   restarts: {no_data: ignore}                      # restarts, oom-kills, unhealthy-instances,
  #                                                    # slo:<name>

rollback:
  on_regression: true              # false: pause and wait for a human instead
  verify_window: 10s
  triggers:
    error_rate_increase_pp: 2      # error rate > baseline + 2 percentage points
    latency_p99_increase_pct: 20   # p99 > baseline + 20% ...
    latency_p99_min_increase_ms: 10  # ... and at least 10 ms more (ignores jitter)
    throughput_drop_pct: 30        # below its traffic-share-normalised baseline by > 30%
    max_restarts: 3                # > 3 restarts within restart_window
    restart_window: 5m
    oom_kill: true                 # any OOM kill
    unhealthy_pct: 50              # > 50% of instances failing health checks
    smoke_failure: true

smoke:                             # run against the new version before traffic, after, and after a rollback
  - name: root responds            # example
    type: http
    path: /
    expect_status: 200
    max_latency_ms: 500
  # - name: version endpoint
  #   type: http
  #   path: /version
  #   json_field: version
  #   json_equals: "{version}"
  # - name: journey script
  #   type: command
  #   command: ["./smoke.sh", "{url}"]

slos:                              # absolute objectives, judged at every analysis (example)
  - name: p99 under 500 ms
    metric: latency_p99
    max: 500

readiness:                         # pre-deployment validation before every deploy
  enabled: true
  tests: []                        # JUnit XML files or dirs, {version} allowed: ["ci/{version}/*.xml"]
  security: []                     # SARIF 2.1.0 or JSON findings lists
  approvals: [release-manager]     # roles that must `watchstander approve VERSION` ([] for none)
  rollback_plan: [".aiwg/deployment/rollback-plan*.md"]
  drill_max_age: 7d                # `watchstander rollback drill` at least this often
  database_migration: false
  # migration_rollback_script: migrations/{version}/down.sql
  # checksums: dist/{version}/SHA256SUMS       # sha256sum output, paths relative to it
  # signature: {type: ssh, artifact: dist/{version}/app.tar, signature: dist/{version}/app.tar.sig,
  #             allowed_signers: allowed_signers, identity: release@example.com}
  # freeze:
  #   - {name: year end, timezone: Europe/Berlin, start: "2026-12-20T00:00", end: "2027-01-04T09:00"}
  #   - {name: friday evening, timezone: UTC, days: [fri], start: "16:00", end: "23:59"}

# staging:                         # a second target: the staging regression gate deploys here first
#   target: {type: local, listen: 127.0.0.1:9080, admin: 127.0.0.1:9081, command: [...], replicas: 2}
#   settle: 5s
#   window: 10s

regression:
  threshold: 0                     # percent of regression tolerated (--regression-threshold)
  staging_scope: full              # full | critical | targeted
  production_scope: critical
  production_gate: true            # compare with the pre-deployment snapshot after observation
  # suite: {command: [python, -m, pytest, tests/regression, "--junitxml={junit}"], timeout: 5m}
  # critical_tests: ["tests/regression/test_checkout.py::*"]
  journeys: []                     # user-journey checks (same forms as smoke checks)
  tolerances: {error_rate_pp: 0.1, latency_pct: 5, latency_ms: 10, throughput_pct: 10}

reports:
  dir: .aiwg
"""
