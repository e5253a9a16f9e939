"""Targets run and route the service's versions (local data plane, later HAProxy, Kubernetes)."""
