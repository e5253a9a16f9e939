"""Email over SMTP with the standard library's smtplib, run in a worker thread.

One plain-text message per send, to every recipient: `Subject: [P1] subject`, the text as
the body, and `X-Watchstander-Incident`, `X-Watchstander-Kind` and `X-Watchstander-Severity`
headers for filtering. With `starttls=True` the connection is upgraded before any login;
credentials are only sent when a username is set.

The Delivery's `status` is the server's reply code to the message data (250 on success) or
to the command that failed; its `reference` is the success reply's text (often the queue
id). A message some recipients refused but others accepted is delivered (ok) and says so in
`detail`: sending again would duplicate it for the rest. Nothing raises for a failed
delivery; SMTP 4xx replies and connection errors are retryable, 5xx replies are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from watchstander.clock import Clock, SystemClock
from watchstander.errors import ConfigError
from watchstander.providers.notify.base import Delivery, ErrorKind, Message, Reporter

__all__ = ["SmtpEmail"]


class _Failed(Exception):
    def __init__(self, detail: str, status: int | None = None, error: ErrorKind | None = None):
        super().__init__(detail)
        self.detail, self.status, self.error = detail, status, error


def _reply(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())


class SmtpEmail(Reporter):
    channel = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not host:
            raise ConfigError("email host: must not be empty")
        if not 0 < port < 65536:
            raise ConfigError(f"email port: {port} is not a TCP port")
        if not sender or "@" not in sender:
            raise ConfigError(f"email sender: {sender!r} is not an email address")
        if isinstance(recipients, str):
            recipients = [recipients]
        if not recipients:
            raise ConfigError("email recipients: at least one is needed")
        for r in recipients:
            if "@" not in r or any(c in r for c in "\r\n"):
                raise ConfigError(f"email recipients: {r!r} is not an email address")
        self.host, self.port = host, port
        self.sender, self.recipients = sender, tuple(recipients)
        self._username, self._password = username, password
        self.starttls = starttls
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._clock = clock or SystemClock()

    @property
    def target(self) -> str:
        """`smtp://host:port -> a@x, b@y` (never the credentials)."""
        return f"smtp://{self.host}:{self.port} -> {', '.join(self.recipients)}"

    def __repr__(self) -> str:
        return f"SmtpEmail({self.target!r})"

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(self._clock.now().timestamp(), localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail["X-Watchstander-Severity"] = message.severity
        mail["X-Watchstander-Kind"] = _header(message.kind)
        if message.incident_id:
            mail["X-Watchstander-Incident"] = _header(message.incident_id)
        mail.set_content(message.text or message.subject)
        return mail

    async def send(self, message: Message) -> Delivery:
        try:
            mail = self.build(message)
        except (ValueError, TypeError) as exc:
            return self._delivery(False, f"cannot build the email: {exc}", error="invalid")
        try:
            status, reply, refused = await asyncio.to_thread(self._send_sync, mail)
        except _Failed as exc:
            return self._delivery(False, exc.detail, status=exc.status, error=exc.error)
        detail = f"{status} {reply}".strip()
        if refused:
            detail += "; refused " + ", ".join(f"{r} ({why})" for r, why in refused.items())
        return self._delivery(True, detail, status=status, reference=reply or None)

    def _secrets(self) -> tuple[str | None, ...]:
        return (self._password,)

    def _send_sync(self, mail: EmailMessage) -> tuple[int, str, dict[str, str]]:
        """One SMTP session: EHLO, STARTTLS, AUTH, MAIL, RCPT each, DATA. Raises _Failed."""
        try:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
            )
        except smtplib.SMTPConnectError as exc:
            raise _Failed(
                f"connect: {exc.smtp_code} {_reply(exc.smtp_error)}", exc.smtp_code
            ) from exc
        except TimeoutError as exc:
            raise _Failed(f"connect timed out after {self.timeout:g}s", error="timeout") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _Failed(f"connect: {_os_error(exc)}", error="connect") from exc
        polite = True  # say QUIT unless the connection is broken or hanging
        try:
            return self._session(smtp, mail)
        except _Failed:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise _Failed(
                f"login refused: {exc.smtp_code} {_reply(exc.smtp_error)}",
                exc.smtp_code,
                "auth",
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise _Failed(f"server does not support {exc}", error="protocol") from exc
        except smtplib.SMTPResponseException as exc:
            raise _Failed(f"{exc.smtp_code} {_reply(exc.smtp_error)}", exc.smtp_code) from exc
        except smtplib.SMTPServerDisconnected as exc:
            polite = False
            raise _Failed(f"server disconnected: {exc}", error="connect") from exc
        except ssl.SSLError as exc:
            polite = False
            raise _Failed(f"TLS failed: {exc}", error="tls") from exc
        except TimeoutError as exc:
            polite = False
            raise _Failed(f"timed out after {self.timeout:g}s", error="timeout") from exc
        except OSError as exc:
            polite = False
            raise _Failed(_os_error(exc), error="connect") from exc
        except smtplib.SMTPException as exc:
            raise _Failed(str(exc) or type(exc).__name__, error="protocol") from exc
        finally:
            if polite:
                # The message is already accepted or refused: a failed QUIT changes nothing.
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    smtp.quit()
            smtp.close()

    def _session(self, smtp: smtplib.SMTP, mail: EmailMessage) -> tuple[int, str, dict[str, str]]:
        smtp.ehlo_or_helo_if_needed()
        if self.starttls:
            context = self._ssl_context or ssl.create_default_context()
            code, reply = smtp.starttls(context=context)
            if code != 220:
                raise _Failed(f"STARTTLS refused: {code} {_reply(reply)}", code, "tls")
            smtp.ehlo()
        if self._username:
            smtp.login(self._username, self._password or "")
        code, reply = smtp.mail(self.sender)
        if code != 250:
            smtp.rset()
            raise _Failed(f"sender {self.sender} refused: {code} {_reply(reply)}", code)
        refused: dict[str, str] = {}
        last: tuple[int, bytes] = (0, b"")
        for recipient in self.recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = f"{code} {_reply(reply)}"
                last = (code, reply)
        if len(refused) == len(self.recipients):
            smtp.rset()
            raise _Failed(
                "every recipient refused: " + ", ".join(f"{r} ({w})" for r, w in refused.items()),
                last[0],
            )
        code, reply = smtp.data(mail.as_bytes())
        if code != 250:
            raise _Failed(f"message refused: {code} {_reply(reply)}", code)
        return code, _reply(reply), refused


def _header(value: str) -> str:
    return " ".join(value.split())


def _os_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
