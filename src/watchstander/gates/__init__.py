"""Pure decisions before and around a rollout: strategy recommendation, guidance parsing,
natural-language intents, pre-deployment readiness (GO / CONDITIONAL_GO / NO-GO), change
freezes, and the staging and production regression gates. No IO: files are read by
watchstander.inputs, targets and metric sources by the engine.
"""
