#!/usr/bin/env bash
# System packages the tests use for real: Prometheus (and promtool, which checks the
# exported SLO rules) and HAProxy; each integration test starts its own server on loopback.
# PostgreSQL's binaries (initdb, pg_ctl) come with these machines; a missing one is named.
# Installs only what is missing; a no-op on a machine that has it all.
set -euo pipefail

missing=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || missing+=(prometheus)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "system-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  $sudo apt-get update >/dev/null
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package may start a Prometheus server through the init system; the tests
# start their own on loopback, so stop a packaged one if it came up.
if command -v service >/dev/null 2>&1; then
  for unit in prometheus haproxy postgresql; do
    $sudo service "$unit" stop >/dev/null 2>&1 || true
  done
fi
