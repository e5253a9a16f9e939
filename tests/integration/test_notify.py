"""The notifiers against real receivers: an aiohttp server on loopback standing in for Slack, a
generic webhook consumer (checking the HMAC with verify_signature) and PagerDuty's Events
API (checking the body with the intake parser), and an aiosmtpd SMTP server."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from conftest import free_port

from watchstander.clock import FakeClock
from watchstander.errors import ConfigError, InputError
from watchstander.inputs.pagerduty import parse_pagerduty_event
from watchstander.providers.notify.base import (
    Delivery,
    Message,
    Notifier,
    redact_url,
    retry_schedule,
    retryable,
    send_with_retry,
)
from watchstander.providers.notify.email import SmtpEmail
from watchstander.providers.notify.webhook import (
    GenericWebhook,
    PagerDutyEvents,
    SlackWebhook,
    sign,
    verify_signature,
)

pytestmark = pytest.mark.integration

SLACK_PATH = "/services/T0000SECRET/B0000SECRET/xoxbSECRETTOKEN123"
HOOK_PATH = "/hooks/generic-hook-secret-path"
HMAC_SECRET = "s3cret-hmac-key"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefSECRET"
START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

ALERT = Message(
    subject="checkout error rate 7.2% (threshold 2%)",
    text="Canary 1.4.0 of checkout fails its error-rate check.\nRolled back at 09:29.",
    markdown="*Canary 1.4.0* of `checkout` fails its error-rate check.",
    severity="P1",
    incident_id="INC-42",
    kind="initial-alert",
    dedup_key="checkout-INC-42",
    data={"service": "checkout", "environment": "prod", "url": "https://ws.example/INC-42"},
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    base: str
    requests: list[Received] = field(default_factory=list)
    flaky_calls: int = 0

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on 127.0.0.1 (port 0) that records and checks what it gets."""
    state = Receiver(base="")

    async def record(request: web.Request) -> Received:
        got = Received(request.path, dict(request.headers), await request.read())
        state.requests.append(got)
        return got

    async def slack(request: web.Request) -> web.Response:
        got = await record(request)
        body = got.json()
        if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list):
            return web.Response(status=400, text="invalid_payload")
        types = [b.get("type") for b in body["blocks"]]
        if types[:2] != ["header", "section"]:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    async def generic(request: web.Request) -> web.Response:
        got = await record(request)
        signature = request.headers.get("X-Watchstander-Signature", "")
        if not verify_signature(got.body, signature, HMAC_SECRET):
            return web.Response(status=401, text="bad signature")
        if not request.headers.get("X-Watchstander-Timestamp", "").isdigit():
            return web.Response(status=400, text="no timestamp")
        return web.Response(status=204)

    async def pagerduty(request: web.Request) -> web.Response:
        got = await record(request)
        try:
            event = parse_pagerduty_event(got.body, "pagerduty")
        except InputError as exc:
            return web.json_response(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": [str(exc)],
                },
                status=400,
            )
        key = event.dedup_key or "generated-by-receiver"
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    async def flaky(request: web.Request) -> web.Response:
        await record(request)
        state.flaky_calls += 1
        if state.flaky_calls == 1:
            return web.Response(status=500, text="upstream exploded")
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        await record(request)
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"answered {code} for {request.path}")

    app = web.Application()
    app.router.add_post(SLACK_PATH, slack)
    app.router.add_post(HOOK_PATH, generic)
    app.router.add_post("/v2/enqueue", pagerduty)
    app.router.add_post("/flaky/secret-part", flaky)
    app.router.add_post("/status/{code}", status)
    app.router.add_post("/status/{code}/{rest:.*}", status)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        state.base = f"http://{host}:{port}"
        yield state
    finally:
        await runner.cleanup()


# -- SMTP server -------------------------------------------------------------------------------


class MailStore:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.data_reply = "250 2.0.0 Ok: queued as Q123ABC"

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


@dataclass
class Smtp:
    port: int
    store: MailStore


def _authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"notifier"
        and auth_data.password == b"right-password"
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts."""
    store = MailStore()
    port = free_port()
    controller = Controller(store, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp(port, store)
    finally:
        controller.stop()


@pytest.fixture
def smtp_auth() -> Iterator[Smtp]:
    """The same, requiring a login (over plain text: loopback only)."""
    store = MailStore()
    port = free_port()
    controller = Controller(
        store,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield Smtp(port, store)
    finally:
        controller.stop()


def assert_no_secrets(delivery: Delivery, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in delivery.target
        assert secret not in delivery.detail
        assert secret not in repr(delivery)


# -- Slack ---------------------------------------------------------------------------------------


async def test_slack_webhook(receiver: Receiver) -> None:
    url = receiver.base + SLACK_PATH
    clock = FakeClock(START)
    slack = SlackWebhook(url, clock=clock)
    assert isinstance(slack, Notifier)
    delivery = await slack.send(ALERT)

    assert delivery.ok, delivery
    assert delivery.channel == "slack" and delivery.status == 200 and delivery.at == START
    assert delivery.target == f"{receiver.base}/services/***"
    assert_no_secrets(delivery, "T0000SECRET", "B0000SECRET", "xoxbSECRETTOKEN123")
    assert "SECRET" not in repr(slack)

    [got] = receiver.on(SLACK_PATH)
    assert got.headers["Content-Type"] == "application/json"
    body = got.json()
    assert body["text"].startswith("[P1] checkout error rate 7.2%")
    header, section, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "[P1] checkout error rate 7.2% (threshold 2%)",
            "emoji": True,
        },
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"] == ALERT.markdown
    assert context["elements"][0]["text"] == "INC-42 · initial-alert"


async def test_slack_limits_are_respected(receiver: Receiver) -> None:
    long = Message(subject="x" * 400, text="y" * 5000, severity="P3")
    delivery = await SlackWebhook(receiver.base + SLACK_PATH).send(long)
    assert delivery.ok
    body = receiver.on(SLACK_PATH)[0].json()
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert len(body["blocks"][1]["text"]["text"]) == 3000
    assert body["blocks"][2]["elements"][0]["text"] == "initial-alert"  # no incident id


# -- generic webhook -------------------------------------------------------------------------------


async def test_generic_webhook_is_signed_and_verified(receiver: Receiver) -> None:
    url = receiver.base + HOOK_PATH + "?token=abc123"
    clock = FakeClock(START)
    hook = GenericWebhook(url, secret=HMAC_SECRET, clock=clock)
    delivery = await hook.send(ALERT)

    assert delivery.ok and delivery.status == 204 and delivery.channel == "webhook"
    assert delivery.target == f"{receiver.base}/hooks/***"
    assert_no_secrets(delivery, "generic-hook-secret-path", "abc123", HMAC_SECRET)

    [got] = receiver.on(HOOK_PATH)
    assert got.headers["X-Watchstander-Timestamp"] == str(int(START.timestamp()))
    signature = got.headers["X-Watchstander-Signature"]
    assert signature == sign(got.body, HMAC_SECRET) and signature.startswith("sha256=")
    assert len(signature) == len("sha256=") + 64
    # the receiving side: the exact bytes verify; a wrong secret or a changed body do not
    assert verify_signature(got.body, signature, HMAC_SECRET)
    assert not verify_signature(got.body, signature, "wrong-secret")
    assert not verify_signature(got.body + b" ", signature, HMAC_SECRET)
    assert not verify_signature(got.body, "sha1=" + signature[7:], HMAC_SECRET)
    assert not verify_signature(got.body, "garbage", HMAC_SECRET)
    assert not verify_signature(got.body, "", HMAC_SECRET)
    assert verify_signature(got.body, signature.upper().replace("SHA256=", "sha256="), HMAC_SECRET)

    body = got.json()
    assert body["kind"] == "initial-alert" and body["incident_id"] == "INC-42"
    assert body["severity"] == "P1" and body["dedup_key"] == "checkout-INC-42"
    assert body["text"] == ALERT.text and body["data"]["service"] == "checkout"
    assert body["sent_at"] == START.isoformat()


async def test_generic_webhook_with_the_wrong_secret_is_refused(receiver: Receiver) -> None:
    hook = GenericWebhook(receiver.base + HOOK_PATH, secret="not-the-secret")
    delivery = await hook.send(ALERT)
    assert not delivery.ok and delivery.status == 401
    assert not retryable(delivery)  # a 4xx will not get better
    assert "not-the-secret" not in delivery.detail

    unsigned = await GenericWebhook(receiver.base + HOOK_PATH).send(ALERT)
    assert not unsigned.ok and unsigned.status == 401
    assert "X-Watchstander-Signature" not in receiver.requests[-1].headers


async def test_custom_signature_header(receiver: Receiver) -> None:
    hook = GenericWebhook(receiver.base + "/status/200", HMAC_SECRET, header="X-Hub-Signature-256")
    assert (await hook.send(ALERT)).ok
    got = receiver.requests[-1]
    assert verify_signature(got.body, got.headers["X-Hub-Signature-256"], HMAC_SECRET)


# -- PagerDuty -------------------------------------------------------------------------------------


async def test_pagerduty_trigger_acknowledge_resolve(receiver: Receiver) -> None:
    clock = FakeClock(START)
    pd = PagerDutyEvents(ROUTING_KEY, url=receiver.base + "/v2/enqueue", clock=clock)
    trigger = await pd.send(ALERT)
    assert trigger.ok and trigger.status == 202, trigger
    assert trigger.reference == "checkout-INC-42"
    assert trigger.target == f"{receiver.base}/v2/***"
    assert_no_secrets(trigger, ROUTING_KEY)
    assert ROUTING_KEY not in repr(pd)

    body = receiver.requests[-1].json()
    assert body["routing_key"] == ROUTING_KEY and body["event_action"] == "trigger"
    assert body["dedup_key"] == "checkout-INC-42"
    payload = body["payload"]
    assert payload["summary"] == "[P1] checkout error rate 7.2% (threshold 2%)"
    assert payload["severity"] == "error" and payload["source"] == "watchstander"
    assert payload["component"] == "checkout" and payload["group"] == "prod"
    assert payload["class"] == "initial-alert" and payload["timestamp"] == START.isoformat()
    assert payload["custom_details"]["incident_id"] == "INC-42"
    assert body["client_url"] == "https://ws.example/INC-42"

    ack = await pd.acknowledge(ALERT)
    assert ack.ok and receiver.requests[-1].json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": "checkout-INC-42",
    }
    resolved = Message(
        "checkout recovered",
        "Rolled back.",
        "P1",
        "INC-42",
        kind="resolution-notification",
        dedup_key="checkout-INC-42",
    )
    assert (await pd.send(resolved)).ok
    assert receiver.requests[-1].json()["event_action"] == "resolve"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("P0", "critical"), ("P1", "error"), ("P2", "warning"), ("P3", "info")],
)
async def test_pagerduty_severity_and_summary_limit(
    receiver: Receiver, priority: str, severity: str
) -> None:
    pd = PagerDutyEvents(ROUTING_KEY, url=receiver.base + "/v2/enqueue")
    message = Message("s" * 2000, "t", priority, "INC-" + "9" * 300)
    delivery = await pd.send(message)
    assert delivery.ok, delivery  # the receiver's parser enforces PD's limits
    body = receiver.requests[-1].json()
    assert body["payload"]["severity"] == severity
    assert len(body["payload"]["summary"]) == 1024
    assert body["dedup_key"].startswith("sha256:") and len(body["dedup_key"]) <= 255


async def test_pagerduty_resolve_without_a_key_is_not_sent(receiver: Receiver) -> None:
    pd = PagerDutyEvents(ROUTING_KEY, url=receiver.base + "/v2/enqueue")
    delivery = await pd.resolve(Message("done", "done"))
    assert not delivery.ok and delivery.error == "invalid" and not retryable(delivery)
    assert receiver.requests == []
    # a trigger without a key is fine: PagerDuty makes one up
    triggered = await pd.trigger(Message("no key", "text", "P2"))
    assert triggered.ok and triggered.reference == "generated-by-receiver"
    assert "dedup_key" not in receiver.requests[-1].json()


# -- retries -------------------------------------------------------------------------------------


class RecordingClock(FakeClock):
    def __init__(self) -> None:
        super().__init__(START)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await super().sleep(seconds)


async def test_500_then_200_is_retried(receiver: Receiver) -> None:
    url = receiver.base + "/flaky/secret-part"
    hook = GenericWebhook(url)
    first = await hook.send(ALERT)
    assert not first.ok and first.status == 500 and retryable(first)
    assert "upstream exploded" in first.detail
    second = await hook.send(ALERT)
    assert second.ok and not retryable(second)

    receiver.flaky_calls = 0
    clock = RecordingClock()
    delivery = await send_with_retry(GenericWebhook(url, clock=clock), ALERT, clock=clock)
    assert delivery.ok and delivery.attempts == 2
    assert clock.slept == [retry_schedule(1)] == [1.0]
    assert delivery.target == f"{receiver.base}/flaky/***"


async def test_status_codes_and_retry_budget(receiver: Receiver) -> None:
    for code, expected in [(429, True), (503, True), (400, False), (404, False), (410, False)]:
        url = f"{receiver.base}/status/{code}/tokenSECRET{code}"
        delivery = await SlackWebhook(url).send(ALERT)
        assert not delivery.ok and delivery.status == code
        assert retryable(delivery) is expected, code
        assert delivery.detail.startswith(f"{code} ")
        assert f"answered {code} for /status/***" in delivery.detail  # the echo is scrubbed
        assert "tokenSECRET" not in delivery.detail

    clock = RecordingClock()
    hook = SlackWebhook(f"{receiver.base}/status/503", clock=clock)
    delivery = await send_with_retry(hook, ALERT, max_attempts=4, clock=clock)
    assert not delivery.ok and delivery.attempts == 4 and clock.slept == [1.0, 2.0, 4.0]

    clock = RecordingClock()
    hook = SlackWebhook(f"{receiver.base}/status/400", clock=clock)
    delivery = await send_with_retry(hook, ALERT, max_attempts=4, clock=clock)
    assert delivery.attempts == 1 and clock.slept == []


def test_retry_schedule() -> None:
    assert [retry_schedule(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_schedule(1000) == 60
    assert retry_schedule(3, base=0.5, cap=1.5) == 1.5
    with pytest.raises(ValueError):
        retry_schedule(0)


async def test_closed_port_is_a_retryable_failure() -> None:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/services/T1/B1/closedportSECRET"
    for notifier in (
        SlackWebhook(url, timeout=5),
        GenericWebhook(url, HMAC_SECRET, timeout=5),
        PagerDutyEvents(ROUTING_KEY, url=url, timeout=5),
    ):
        delivery = await notifier.send(ALERT)
        assert not delivery.ok and delivery.status is None and delivery.error == "connect"
        assert retryable(delivery)
        assert_no_secrets(delivery, "closedportSECRET", ROUTING_KEY, HMAC_SECRET)
        assert delivery.target == f"http://127.0.0.1:{port}/services/***"

    mail = await SmtpEmail("127.0.0.1", port, "ws@example.com", ["oncall@example.com"]).send(ALERT)
    assert not mail.ok and mail.error == "connect" and retryable(mail)


def test_bad_urls_are_config_errors() -> None:
    for url in ("ftp://example.com/x", "not a url", "https://"):
        with pytest.raises(ConfigError):
            SlackWebhook(url)
    with pytest.raises(ConfigError):
        PagerDutyEvents("")
    with pytest.raises(ConfigError):
        GenericWebhook("https://example.com/x", "s", header="Bad Header:")


def test_redact_url() -> None:
    assert (
        redact_url("https://hooks.slack.com/services/T0/B0/XXXX")
        == "https://hooks.slack.com/services/***"
    )
    assert redact_url("https://example.com/hook?token=abc") == "https://example.com/***"
    assert redact_url("https://user:pw@example.com:8443/a/b") == "https://example.com:8443/a/***"
    assert redact_url("https://example.com") == "https://example.com"
    assert redact_url("https://example.com/?key=1") == "https://example.com/***"
    assert redact_url("nonsense") == "<invalid url>"


# -- email ---------------------------------------------------------------------------------------


async def test_email_is_delivered(smtp: Smtp) -> None:
    clock = FakeClock(START)
    mailer = SmtpEmail(
        "127.0.0.1",
        smtp.port,
        "watchstander@example.com",
        ["oncall@example.com", "lead@example.com"],
        clock=clock,
    )
    assert isinstance(mailer, Notifier)
    delivery = await mailer.send(ALERT)

    assert delivery.ok, delivery
    assert delivery.channel == "email" and delivery.status == 250
    assert delivery.reference == "2.0.0 Ok: queued as Q123ABC"
    assert (
        delivery.target == f"smtp://127.0.0.1:{smtp.port} -> oncall@example.com, lead@example.com"
    )
    assert not retryable(delivery)

    [envelope] = smtp.store.envelopes
    assert envelope.mail_from == "watchstander@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    assert isinstance(envelope.content, bytes)
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "[P1] checkout error rate 7.2% (threshold 2%)"
    assert mail["From"] == "watchstander@example.com"
    assert mail["X-Watchstander-Incident"] == "INC-42"
    assert mail["X-Watchstander-Kind"] == "initial-alert"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == ALERT.text


async def test_email_unicode_and_header_injection(smtp: Smtp) -> None:
    mailer = SmtpEmail("127.0.0.1", smtp.port, "ws@example.com", ["oncall@example.com"])
    message = Message("Zahlung fehlgeschlagen – €\r\nBcc: evil@example.com", "Grüße ✓", "P0")
    delivery = await mailer.send(message)
    assert delivery.ok, delivery
    content = smtp.store.envelopes[0].content
    assert isinstance(content, bytes)
    mail = email.message_from_bytes(content, policy=email.policy.default)
    assert mail["Subject"] == "[P0] Zahlung fehlgeschlagen – € Bcc: evil@example.com"
    assert mail["Bcc"] is None
    assert mail.get_content().strip() == "Grüße ✓"
    assert smtp.store.envelopes[0].rcpt_tos == ["oncall@example.com"]


async def test_email_refusals(smtp: Smtp) -> None:
    partly = SmtpEmail(
        "127.0.0.1", smtp.port, "ws@example.com", ["oncall@example.com", "x@refused.example"]
    )
    delivery = await partly.send(ALERT)
    assert delivery.ok and "refused x@refused.example (550" in delivery.detail
    assert smtp.store.envelopes[-1].rcpt_tos == ["oncall@example.com"]

    nobody = SmtpEmail("127.0.0.1", smtp.port, "ws@example.com", ["x@refused.example"])
    delivery = await nobody.send(ALERT)
    assert not delivery.ok and delivery.status == 550 and not retryable(delivery)

    smtp.store.data_reply = "451 4.3.0 try again later"
    delivery = await SmtpEmail("127.0.0.1", smtp.port, "ws@example.com", ["a@example.com"]).send(
        ALERT
    )
    assert not delivery.ok and delivery.status == 451 and retryable(delivery)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_email_login(smtp_auth: Smtp) -> None:
    good = SmtpEmail(
        "127.0.0.1",
        smtp_auth.port,
        "ws@example.com",
        ["oncall@example.com"],
        username="notifier",
        password="right-password",
    )
    assert (await good.send(ALERT)).ok
    assert len(smtp_auth.store.envelopes) == 1

    bad = SmtpEmail(
        "127.0.0.1",
        smtp_auth.port,
        "ws@example.com",
        ["oncall@example.com"],
        username="notifier",
        password="wrong-password",
    )
    delivery = await bad.send(ALERT)
    assert not delivery.ok and delivery.error == "auth" and delivery.status == 535
    assert not retryable(delivery)
    assert "wrong-password" not in delivery.detail and "wrong-password" not in delivery.target
    assert len(smtp_auth.store.envelopes) == 1


def test_email_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        SmtpEmail("localhost", 25, "not-an-address", ["a@example.com"])
    with pytest.raises(ConfigError):
        SmtpEmail("localhost", 25, "ws@example.com", [])
    with pytest.raises(ConfigError):
        SmtpEmail("localhost", 0, "ws@example.com", ["a@example.com"])


async def test_injected_transport_and_timeouts() -> None:
    """A transport can be injected (and is not closed by a send); a timeout is retryable."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/slow"):
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(202, json={"status": "success", "dedup_key": "k1"})

    transport = httpx.MockTransport(answer)
    pd = PagerDutyEvents(ROUTING_KEY, url="https://events.example/v2/enqueue", transport=transport)
    assert (await pd.send(ALERT)).reference == "k1"
    assert (await pd.send(ALERT)).ok  # the transport still works after the first send
    slow = await SlackWebhook("https://hooks.example/services/a/slow", transport=transport).send(
        ALERT
    )
    assert not slow.ok and slow.error == "timeout" and retryable(slow)
    assert len(seen) == 3
