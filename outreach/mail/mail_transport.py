"""How an e-mail leaves: SendGrid, or the embedded outbox that the app shows.

One small interface, ``send(message, sender) -> provider id``, raising
:class:`DeliveryError` with a ``permanent`` flag. Transient failures (429, 5xx,
timeouts, dropped connections) are retried by the outbox later; permanent ones
(a bad key, a refused address) are shown in the app and never retried.

SendGrid's rate limit is per account, not per message: after a 429 the transport
sends nothing until the ``X-RateLimit-Reset`` it was given, and refuses each send
meanwhile without a request (an error that does not count as an attempt).

Every way the wire can fail is one of three outcomes: sent (a 2xx, even one whose
body was cut short: SendGrid's 202 has an empty body, its status line and
``X-Message-Id`` say it all), retry (a timeout, a reset, an answer that is not HTTP),
or failed for good (a refusal SendGrid will repeat).
"""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPException, HTTPMessage, IncompleteRead
from typing import Any, Protocol

import python_http_client
from python_http_client.exceptions import HTTPError, err_dict
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    Cc,
    CustomArg,
    From,
    Mail,
    MailSettings,
    Personalization,
    ReplyTo,
    SandBoxMode,
    To,
)

from outreach import clock
from outreach.models import OutboxMessage
from outreach.settings import Settings


@dataclass(frozen=True)
class Sender:
    email: str
    name: str


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None,
                 attempted: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.attempted = attempted  # False: refused before any request left


class MailTransport(Protocol):
    name: str

    def send(self, message: OutboxMessage, sender: Sender) -> str:
        """Hand the message over; return the provider's id for it."""
        ...

    def paused_until(self) -> datetime | None:
        """Until when the provider asked us to send nothing (a 429's reset), if it did."""
        ...


class EmbeddedOutbox:
    """No e-mail leaves the machine: the outbox row is the delivered mail, shown in the app."""

    name = "outbox"

    def send(self, message: OutboxMessage, sender: Sender) -> str:
        return f"outbox-{message.id}"

    def paused_until(self) -> datetime | None:
        return None


_PERMANENT_HINTS = {
    401: "SendGrid refused the API key (401): check SENDGRID_API_KEY",
    403: "SendGrid refused the send (403): the key needs Mail Send permission and the sender "
         "address must be a verified sender",
    413: "SendGrid refused the message as too large (413)",
}


class _CutBodyTolerated:
    """urllib's response to a 2xx, whose body may end early without losing the answer."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def getcode(self) -> int:
        return int(self._response.getcode())

    def info(self) -> HTTPMessage:
        return self._response.info()

    def read(self) -> bytes:
        try:
            return bytes(self._response.read())
        except IncompleteRead as cut:
            return bytes(cut.partial)


class _SendGridHTTP(python_http_client.Client):
    """python_http_client's Client, except that an answer whose body is cut short keeps its status.

    The library reads the whole body before it returns or raises, so a connection dropped
    after the status line surfaces as a bare ``IncompleteRead`` with the status lost: a 202
    would look like a failure and be sent again, a 401 like a passing fault (sendgrid-python
    #966). ``_make_request`` is the seam the library keeps for this; ``_build_client`` only
    keeps building this class down the ``client.mail.send`` chain.
    """

    def _build_client(self, name: str | None = None) -> _SendGridHTTP:
        url_path = [*self._url_path, name] if name else self._url_path
        return _SendGridHTTP(host=self.host, request_headers=self.request_headers, version=self._version,
                             url_path=url_path, append_slash=self.append_slash, timeout=self.timeout)

    def _make_request(self, opener: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return _CutBodyTolerated(super()._make_request(opener, request, timeout=timeout))
        except IncompleteRead as cut:
            error = cut.__context__  # set when the cut body was an error status's
            if isinstance(error, urllib.error.HTTPError):
                raise _with_cut_body(error, bytes(cut.partial)) from None
            raise


def _with_cut_body(error: urllib.error.HTTPError, partial: bytes) -> HTTPError:
    """The library's own error for this status, as if the body had arrived whole."""
    error_class = err_dict.get(error.code, HTTPError)
    return error_class(error.code, error.reason, partial, error.headers)


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 sandbox: bool = False, timeout: float = 10.0,
                 now: Callable[[], datetime] = clock.now) -> None:
        self._client = SendGridAPIClient(api_key, host=host)
        # The library waits for ever by default; a hung request would stall every reminder.
        self._client.client = _SendGridHTTP(host=host, request_headers=self._client.client.request_headers,
                                            version=3, timeout=timeout)
        self.sandbox = sandbox
        self._now = now
        self._lock = threading.Lock()
        self._paused_until: datetime | None = None

    def build(self, message: OutboxMessage, sender: Sender) -> Mail:
        mail = Mail(from_email=From(sender.email, message.from_name or sender.name), subject=message.subject,
                    plain_text_content=message.text, html_content=message.html)
        if message.reply_to_email:
            mail.reply_to = ReplyTo(message.reply_to_email, message.reply_to_name or None)
        personalization = Personalization()
        personalization.add_to(To(message.to_email, message.to_name or None))
        # SendGrid rejects an address that appears twice in one personalization.
        for address in dict.fromkeys(a for a in message.cc if a.lower() != message.to_email.lower()):
            personalization.add_cc(Cc(address))
        personalization.add_custom_arg(CustomArg("outreach_key", message.key))
        mail.add_personalization(personalization)
        mail.add_category(Category(message.kind))
        if self.sandbox:
            mail.mail_settings = MailSettings(sandbox_mode=SandBoxMode(True))
        return mail

    def send(self, message: OutboxMessage, sender: Sender) -> str:
        self._wait_for_rate_limit()
        try:
            response = self._client.send(self.build(message, sender))
        except HTTPError as exc:
            if exc.status_code == 429:
                raise self._rate_limited(exc) from None
            raise _http_failure(exc) from None
        except (OSError, HTTPException) as exc:  # timeouts, resets, refusals, answers that are not HTTP
            raise DeliveryError(f"SendGrid did not answer ({_wire_fault(exc)})", permanent=False) from None
        return response.headers.get("X-Message-Id", "") if response.headers else ""

    def paused_until(self) -> datetime | None:
        with self._lock:
            return self._paused_until

    def _wait_for_rate_limit(self) -> None:
        now = self._now()
        with self._lock:
            until = self._paused_until
        if until is not None and now < until:
            raise DeliveryError(f"SendGrid rate limit: sending paused until {until:%H:%M:%S} UTC",
                                permanent=False, retry_after=_seconds_until(until, now), attempted=False)

    def _rate_limited(self, exc: HTTPError) -> DeliveryError:
        now = self._now()
        until = _reset_time(exc, now)
        with self._lock:
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until
        return DeliveryError("SendGrid rate limit reached (429)", permanent=False,
                             retry_after=_seconds_until(until, now))


def _wire_fault(exc: BaseException) -> str:
    """What broke, by name: "TimeoutError", "URLError: ConnectionRefusedError", "BadStatusLine"."""
    reason = getattr(exc, "reason", None) if isinstance(exc, urllib.error.URLError) else None
    if isinstance(reason, BaseException):
        return f"{type(exc).__name__}: {type(reason).__name__}"
    return type(exc).__name__


def _reset_time(exc: HTTPError, now: datetime) -> datetime:
    """When SendGrid lets us send again: its X-RateLimit-Reset (epoch seconds), else in a minute."""
    reset = (exc.headers or {}).get("X-RateLimit-Reset")
    try:
        return datetime.fromtimestamp(float(reset), UTC) if reset else now + timedelta(seconds=60)
    except (ValueError, OverflowError, OSError):
        return now + timedelta(seconds=60)


def _seconds_until(until: datetime, now: datetime) -> float:
    return max(1.0, (until - now).total_seconds())


def _http_failure(exc: HTTPError) -> DeliveryError:
    status = exc.status_code
    if status >= 500 or status == 408:
        return DeliveryError(f"SendGrid had a server error ({status})", permanent=False)
    return DeliveryError(_PERMANENT_HINTS.get(status) or
                         f"SendGrid refused the message ({status}): {_first_error(exc)}",
                         permanent=True)


def _first_error(exc: HTTPError) -> str:
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or [{}]
        return str(errors[0].get("message") or "no reason given")
    except (ValueError, AttributeError):
        return "no reason given"


def open_transport(settings: Settings) -> MailTransport:
    if settings.uses_sendgrid:
        return SendGridTransport(settings.sendgrid_api_key.reveal(), settings.sendgrid_host,
                                 sandbox=settings.sendgrid_sandbox)
    return EmbeddedOutbox()
