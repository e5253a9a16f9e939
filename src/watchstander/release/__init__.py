"""Releases and rollouts: strategies -> plans, and the pure rollout state machine.

Pure: no IO, no clock reads. `transitions.next_action(rollout, now)` says what to do;
`transitions.apply(...)` folds the action's result into a new rollout state.
"""
