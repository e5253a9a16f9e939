"""What a notifier is handed (Message), what it reports back (Delivery), and the retry rules.

A notifier delivers one message to one channel and never raises for a failed delivery: a
refused request, an HTTP error status, a connection error or a timeout all come back as a
Delivery with `ok=False`, the status (HTTP status or SMTP reply code) when there was one,
and a one-line `detail`. Whether to try again is `retryable(delivery)`; how long to wait
before attempt n+1 is `retry_schedule(n)`; `send_with_retry` combines them with a Clock.

Secrets stay out of everything a Delivery says: `target` is the channel's address with
its secret part masked (`https://hooks.slack.com/services/***`), and no token, routing key,
signature or full webhook URL appears in `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from watchstander.clock import Clock, SystemClock

__all__ = [
    "Reporter",
    "SEVERITIES",
    "KINDS",
    "ErrorKind",
    "Message",
    "Delivery",
    "Notifier",
    "retry_schedule",
    "retryable",
    "send_with_retry",
    "redact_url",
    "scrub",
]

SEVERITIES = ("P0", "P1", "P2", "P3")
"""Incident priorities, most severe first."""

KINDS = (
    "initial-alert",
    "status-page-update",
    "management-notification",
    "executive-notification",
    "acknowledgement",
    "resolution-notification",
)
"""The message kinds the incident flow sends. Other kinds are allowed; notifiers that care
(PagerDuty) treat unknown kinds like an alert."""

ErrorKind = Literal["connect", "timeout", "protocol", "tls", "auth", "invalid"]
"""Why a delivery failed before the receiver answered (or what kind of answer it was):

- connect: no connection (refused, unreachable, DNS) or it dropped: retryable;
- timeout: connect, read or write timed out: retryable;
- protocol: the receiver spoke nonsense (bad HTTP, unexpected SMTP greeting): not retryable;
- tls: TLS negotiation or certificate failed: not retryable;
- auth: credentials were refused: not retryable;
- invalid: the message cannot be sent as given (no dedup key to resolve with, ...).
"""

RETRY_BASE = 1.0
RETRY_FACTOR = 2.0
RETRY_CAP = 60.0


@dataclass(frozen=True)
class Message:
    """One notification. `text` is the plain-text body every channel can show; `markdown`
    is an optional richer body for channels that render it (Slack's mrkdwn). `dedup_key`
    identifies the alert across trigger/acknowledge/resolve (PagerDuty; the generic webhook
    passes it on); notifiers that need one fall back to `incident_id`. `data` is extra,
    JSON-serialisable context (service, environment, links, ...)."""

    subject: str
    text: str
    severity: str = "P2"
    incident_id: str = ""
    kind: str = "initial-alert"
    markdown: str | None = None
    dedup_key: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not self.kind:
            raise ValueError("kind must not be empty")

    @property
    def title(self) -> str:
        """The subject prefixed with the severity: `[P1] checkout errors above 5%`."""
        return f"[{self.severity}] {_one_line(self.subject)}"


@dataclass(frozen=True)
class Delivery:
    """What happened to one message on one channel.

    `status` is the HTTP status or the SMTP reply code when the receiver answered; `error`
    says why not (or why the answer was a failure of that kind) as an ErrorKind;
    `reference` is the receiver's id for what it accepted (PagerDuty's dedup_key, the SMTP
    server's reply text); `attempts` counts tries including this one."""

    channel: str
    target: str
    ok: bool
    status: int | None
    detail: str
    at: datetime
    attempts: int = 1
    error: ErrorKind | None = None
    reference: str | None = None


@runtime_checkable
class Notifier(Protocol):
    """Delivers messages to one channel. The notifiers here also have `channel` (slack,
    webhook, pagerduty, email) and `target` (the address with secrets masked)."""

    async def send(self, message: Message) -> Delivery:
        """Deliver one message; never raises for a failed delivery."""
        ...


def retry_schedule(
    attempt: int, *, base: float = RETRY_BASE, factor: float = RETRY_FACTOR, cap: float = RETRY_CAP
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one:
    base * factor**(attempt-1), capped: 1, 2, 4, 8, 16, 32, 60, 60, ... by default."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    exponent = min(attempt - 1, 64)  # keeps the power finite; the cap applies long before
    return float(min(cap, base * factor**exponent))


def retryable(delivery: Delivery) -> bool:
    """Whether trying the same message again can help.

    - a success is never retried;
    - connection errors and timeouts are retryable;
    - HTTP: 429 and 5xx are retryable, any other status (4xx: the request is wrong) is not;
    - SMTP (channel "email"): 4xx replies are transient and retryable, 5xx are permanent;
    - protocol, TLS, auth and invalid-message failures are not.
    """
    if delivery.ok:
        return False
    if delivery.error in ("connect", "timeout"):
        return True
    if delivery.error is not None or delivery.status is None:
        return False
    if delivery.channel == "email":
        return 400 <= delivery.status < 500
    return delivery.status == 429 or 500 <= delivery.status < 600


async def send_with_retry(
    notifier: Notifier,
    message: Message,
    *,
    max_attempts: int = 4,
    clock: Clock | None = None,
) -> Delivery:
    """Send, and while the delivery failed retryably, wait `retry_schedule(n)` on `clock`
    and send again, at most `max_attempts` times. Returns the last Delivery with
    `attempts` set to the number of tries."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    clock = clock or SystemClock()
    attempt = 1
    while True:
        delivery = await notifier.send(message)
        if attempt >= max_attempts or not retryable(delivery):
            return replace(delivery, attempts=attempt)
        await clock.sleep(retry_schedule(attempt))
        attempt += 1


def redact_url(url: str) -> str:
    """A URL safe to print: scheme, host and port kept; user info, query and fragment
    dropped; of the path only the first segment kept when there are more, the rest masked.

    https://hooks.slack.com/services/T0/B0/XXXX  -> https://hooks.slack.com/services/***
    https://example.com/hook?token=abc            -> https://example.com/***
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not host:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    segments = [s for s in parts.path.split("/") if s]
    if not segments and not parts.query:
        path = ""
    elif len(segments) > 1:
        path = f"/{segments[0]}/***"
    else:
        path = "/***"
    return f"{parts.scheme}://{netloc}{path}"


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with every non-empty secret replaced by ***, on one line, at most 300 chars."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _one_line(text)[:300]


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Reporter:
    """What every notifier shares: a Delivery stamped with its channel, redacted target and
    time, with the notifier's secrets scrubbed from the detail."""

    channel: str
    _clock: Clock

    @property
    def target(self) -> str:
        """Where messages go, with secrets masked (each notifier says)."""
        raise NotImplementedError

    def _secrets(self) -> tuple[str | None, ...]:
        return ()

    def _delivery(
        self,
        ok: bool,
        detail: str,
        *,
        status: int | None = None,
        error: ErrorKind | None = None,
        reference: str | None = None,
    ) -> Delivery:
        return Delivery(
            channel=self.channel,
            target=self.target,
            ok=ok,
            status=status,
            detail=scrub(detail, *self._secrets()),
            at=self._clock.now(),
            error=error,
            reference=reference,
        )
