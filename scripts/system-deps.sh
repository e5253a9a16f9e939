#!/usr/bin/env bash
# System packages the tests use for real: promtool (Debian's prometheus package) checks the
# exported SLO rules. Installs only what is missing; a no-op on a machine that has it all.
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

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
  $sudo service prometheus stop >/dev/null 2>&1 || true
fi
