"""Notifiers: Slack incoming webhook, generic webhook (HMAC-SHA256), SMTP email,
PagerDuty Events v2. Each delivers one message and reports what happened."""
