"""HTTP notifiers: Slack incoming webhook, a generic signed webhook, PagerDuty Events v2.

Each POSTs one JSON body per message with httpx (a fresh AsyncClient per send, so nothing
needs closing; pass `transport=` to route requests elsewhere in tests) and a timeout, and
returns a Delivery: ok for a 2xx answer, otherwise the status or the connection error.
Nothing raises for a failed delivery. A malformed URL raises ConfigError at construction.

Generic webhook signatures. The body is compact JSON; with a secret, the request carries
`X-Watchstander-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` and always
`X-Watchstander-Timestamp: <unix seconds>`. The timestamp header is informational: the
signed copy is the body's `sent_at`, which receivers should check against a replay window.
Receivers verify with `verify_signature(body, header_value, secret)` (constant time).

PagerDuty. `send` triggers, except kind "acknowledgement" (acknowledge) and
"resolution-notification" (resolve). The dedup key is the message's `dedup_key`, else its
`incident_id`; keys over PagerDuty's 255 characters are replaced by `sha256:<hex>` of the
key (the same for trigger and resolve). Acknowledge and resolve need a key; without one
the Delivery fails with error "invalid" and nothing is sent. Severity maps P0 critical,
P1 error, P2 warning, P3 info; the summary is `[P1] subject`, cut to 1024 characters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import httpx

from watchstander.clock import Clock, SystemClock
from watchstander.errors import ConfigError
from watchstander.providers.notify.base import (
    Delivery,
    ErrorKind,
    Message,
    Reporter,
    redact_url,
)

__all__ = [
    "SlackWebhook",
    "GenericWebhook",
    "PagerDutyEvents",
    "PAGERDUTY_EVENTS_URL",
    "PAGERDUTY_SEVERITY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
    "verify_signature",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
PAGERDUTY_SUMMARY_MAX = 1024
PAGERDUTY_DEDUP_MAX = 255
SIGNATURE_HEADER = "X-Watchstander-Signature"
TIMESTAMP_HEADER = "X-Watchstander-Timestamp"
SLACK_HEADER_MAX = 150  # Block Kit limits
SLACK_SECTION_MAX = 3000
DEFAULT_TIMEOUT = 10.0
_USER_AGENT = "watchstander-notify"

PagerDutyAction = Literal["trigger", "acknowledge", "resolve"]


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, header_value: str, secret: str) -> bool:
    """Whether `header_value` (`sha256=<hex>`) is the HMAC-SHA256 of exactly `body` under
    `secret`. Constant-time; False for a missing, malformed or wrong signature."""
    if not secret or not header_value:
        return False
    scheme, _, given = header_value.strip().partition("=")
    if scheme.strip().lower() != "sha256" or not given:
        return False
    expected = sign(body, secret).partition("=")[2]
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode("ascii", "replace"))


class _Borrowed(httpx.AsyncBaseTransport):
    """Lends a caller's transport to a short-lived client without closing it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


def _checked_url(url: str, what: str) -> str:
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigError(f"{what} url: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ConfigError(f"{what} url: must be an http:// or https:// URL with a host")
    return url


def _url_secrets(url: str) -> tuple[str, ...]:
    """The URL and the parts of it redact_url masks (the path after the first segment, each
    of its segments, the query), longest first, for scrubbing them out of error texts.
    Parts shorter than 8 characters are left alone: too short to be a secret, too likely
    to match something else ("404")."""
    parts = httpx.URL(url)
    segments = [s for s in parts.path.split("/") if s]
    masked = segments[1:] if len(segments) > 1 else segments
    pieces = ["/".join(masked), *masked, parts.query.decode("ascii", "replace")]
    found = sorted({p for p in pieces if len(p) >= 8}, key=len, reverse=True)
    return (url, *found)


def _error_kind(exc: Exception) -> ErrorKind:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "invalid"
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ssl.SSLError) or isinstance(cause, ssl.SSLError):
        return "tls"
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | OSError):
        return "connect"
    return "protocol"


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _HttpNotifier(Reporter):
    channel = "webhook"

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock | None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._transport = transport
        self._clock = clock or SystemClock()

    @property
    def target(self) -> str:
        """Where messages go, with the secret part of the URL masked."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"

    def _secrets(self) -> tuple[str | None, ...]:
        return _url_secrets(self._url)

    async def _post(
        self,
        body: bytes,
        headers: Mapping[str, str],
        interpret: Callable[[httpx.Response], tuple[str, str | None]] | None = None,
    ) -> Delivery:
        """POST `body`; a 2xx answer is a success. `interpret(response)` gives the detail
        and reference for any answer (default: status line and a body excerpt)."""
        transport = _Borrowed(self._transport) if self._transport is not None else None
        all_headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            **headers,
        }
        try:
            async with httpx.AsyncClient(
                transport=transport, timeout=httpx.Timeout(self._timeout)
            ) as client:
                response = await client.post(self._url, content=body, headers=all_headers)
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return self._delivery(False, _describe(exc), error=_error_kind(exc))
        detail, reference = (interpret or _status_detail)(response)
        return self._delivery(
            response.is_success, detail, status=response.status_code, reference=reference
        )


def _status_detail(response: httpx.Response) -> tuple[str, str | None]:
    excerpt = " ".join(response.text.split())[:200]
    line = f"{response.status_code} {response.reason_phrase}".strip()
    return (f"{line}: {excerpt}" if excerpt else line), None


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SlackWebhook(_HttpNotifier):
    """Posts to a Slack incoming webhook: `text` (the notification fallback) and `blocks`
    with a header (`[P1] subject`) and a section (the markdown body, else the text), plus a
    context line naming the incident and message kind."""

    channel = "slack"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            _checked_url(url, "slack webhook"), timeout=timeout, transport=transport, clock=clock
        )

    @staticmethod
    def payload(message: Message) -> dict[str, Any]:
        body = message.markdown or message.text or message.subject
        context = " · ".join(p for p in (message.incident_id, message.kind) if p)
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _cut(message.title, SLACK_HEADER_MAX),
                    "emoji": True,
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, SLACK_SECTION_MAX)}},
        ]
        if context:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        return {"text": f"{message.title}\n{message.text}".strip(), "blocks": blocks}

    async def send(self, message: Message) -> Delivery:
        return await self._post(_dumps(self.payload(message)), {})


class GenericWebhook(_HttpNotifier):
    """Posts the message as JSON (see `payload`), signed with HMAC-SHA256 when a secret is
    set. The signature header's name is configurable."""

    channel = "webhook"

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        header: str = SIGNATURE_HEADER,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            _checked_url(url, "webhook"), timeout=timeout, transport=transport, clock=clock
        )
        if not header or any(c in header for c in ":\r\n "):
            raise ConfigError(f"webhook header: {header!r} is not a valid header name")
        self._secret = secret or None
        self._header = header

    def _secrets(self) -> tuple[str | None, ...]:
        return (*_url_secrets(self._url), self._secret)

    def payload(self, message: Message, now: datetime | None = None) -> dict[str, Any]:
        """The JSON document posted for `message`, stamped `sent_at` = `now` (default: the
        clock's now)."""
        return {
            "version": 1,
            "kind": message.kind,
            "incident_id": message.incident_id,
            "severity": message.severity,
            "subject": message.subject,
            "title": message.title,
            "text": message.text,
            "markdown": message.markdown,
            "dedup_key": message.dedup_key,
            "data": dict(message.data),
            "sent_at": (now or self._clock.now()).isoformat(),
        }

    async def send(self, message: Message) -> Delivery:
        now = self._clock.now()
        try:
            body = _dumps(self.payload(message, now))
        except (TypeError, ValueError) as exc:
            return self._delivery(False, f"cannot encode the message: {exc}", error="invalid")
        headers = {TIMESTAMP_HEADER: str(int(now.timestamp()))}
        if self._secret is not None:
            headers[self._header] = sign(body, self._secret)
        return await self._post(body, headers)


class PagerDutyEvents(_HttpNotifier):
    """Sends PagerDuty Events API v2 events (see the module docstring for the mapping).
    `source` is the payload's `source`; `component` and `group` come from the message's
    data (`component` or `service`; `group` or `environment`), `class` is the kind, and
    `custom_details` carries the incident id, kind, text and data."""

    channel = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        url: str = PAGERDUTY_EVENTS_URL,
        *,
        source: str = "watchstander",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not routing_key or not routing_key.strip():
            raise ConfigError("pagerduty routing_key: must not be empty")
        super().__init__(
            _checked_url(url, "pagerduty"), timeout=timeout, transport=transport, clock=clock
        )
        self._routing_key = routing_key.strip()
        self._source = source

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._routing_key,)

    @staticmethod
    def action_for(message: Message) -> PagerDutyAction:
        if message.kind == "resolution-notification":
            return "resolve"
        if message.kind == "acknowledgement":
            return "acknowledge"
        return "trigger"

    @staticmethod
    def dedup_key(message: Message) -> str | None:
        key = message.dedup_key or message.incident_id or None
        if key is not None and len(key) > PAGERDUTY_DEDUP_MAX:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return key

    def event(self, message: Message, action: PagerDutyAction) -> dict[str, Any]:
        """The Events v2 body for `message` (without a key when there is none)."""
        event: dict[str, Any] = {"routing_key": self._routing_key, "event_action": action}
        key = self.dedup_key(message)
        if key is not None:
            event["dedup_key"] = key
        if action != "trigger":
            return event
        data = dict(message.data)
        payload: dict[str, Any] = {
            "summary": _cut(message.title, PAGERDUTY_SUMMARY_MAX),
            "source": self._source,
            "severity": PAGERDUTY_SEVERITY[message.severity],
            "timestamp": self._clock.now().isoformat(),
            "class": message.kind,
            "custom_details": {
                "incident_id": message.incident_id,
                "kind": message.kind,
                "text": _cut(message.text, 16_384),
                **data,
            },
        }
        for field, keys in (
            ("component", ("component", "service")),
            ("group", ("group", "environment")),
        ):
            value = next((data[k] for k in keys if isinstance(data.get(k), str) and data[k]), None)
            if value is not None:
                payload[field] = value
        event["payload"] = payload
        event["client"] = "watchstander"
        url = data.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            event["client_url"] = url
        return event

    async def send(self, message: Message) -> Delivery:
        return await self._send(message, self.action_for(message))

    async def trigger(self, message: Message) -> Delivery:
        return await self._send(message, "trigger")

    async def acknowledge(self, message: Message) -> Delivery:
        return await self._send(message, "acknowledge")

    async def resolve(self, message: Message) -> Delivery:
        return await self._send(message, "resolve")

    async def _send(self, message: Message, action: PagerDutyAction) -> Delivery:
        if action != "trigger" and self.dedup_key(message) is None:
            return self._delivery(
                False, f"{action} needs a dedup_key (or an incident_id)", error="invalid"
            )
        try:
            body = _dumps(self.event(message, action))
        except (TypeError, ValueError) as exc:
            return self._delivery(False, f"cannot encode the event: {exc}", error="invalid")
        return await self._post(body, {}, _pagerduty_detail)


def _pagerduty_detail(response: httpx.Response) -> tuple[str, str | None]:
    try:
        answer = response.json()
    except ValueError:
        return _status_detail(response)
    if not isinstance(answer, dict):
        return _status_detail(response)
    key = answer.get("dedup_key") if isinstance(answer.get("dedup_key"), str) else None
    parts = [str(response.status_code), str(answer.get("message") or answer.get("status") or "")]
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors))
    if key:
        parts.append(f"dedup_key {key}")
    return ": ".join(p for p in parts if p), key
