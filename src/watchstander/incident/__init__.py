"""Pure incident-response rules: priority and SLAs, escalation timers, regression triage,
RCA validation, the regression register, MTTx. No IO: the engine stores and delivers."""
