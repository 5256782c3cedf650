"""A fake SendGrid v3 Mail Send API on 127.0.0.1, for tests and benchmarks.

The ``sendgrid`` library sends with urllib, so ``responses``/``requests-mock`` never see its
requests: this is a real threaded HTTP server on a free port, and the real client talks to it::

    with FakeSendGrid() as fake:
        sg = SendGridAPIClient("SG.test-key", host=fake.host)
        sg.client.timeout = 2                  # the library's default is None: wait forever
        fake.respond_next(429, reset_in=2)     # the next request is rate limited
        ...
        fake.wait_for(1)
        fake.assert_contract()

Every POST /v3/mail/send body is validated against SendGrid's official OpenAPI description
(``sendgrid-mail-v3.openapi.json``, twilio/sendgrid-oai) with ``OAS30Validator``. A body that breaks
it is answered 400 with SendGrid's error shape *and* recorded in ``contract_violations``, so a test
that only looks at the happy path still fails in ``assert_contract()``. The spec types a top-level
``custom_args`` as a string: put ``custom_args`` in each personalization, where it is an object
(``Mail.custom_arg = CustomArg(...)`` produces the top-level object, which is a violation).

What each request gets, in this order:
1. missing or non-``Bearer`` Authorization: 401 and a violation; a wrong key: 401 only (a test may
   mean it);
2. a Content-Type other than application/json, a body that is not JSON, or one that breaks the
   contract: 400 and a violation;
3. otherwise the next scripted reply (``respond_next``), else the default (``set_default``, 202).
   Only requests that pass 1 and 2 consume scripted replies.

Replies: 202 (empty body, a unique ``X-Message-Id``; a body with
``mail_settings.sandbox_mode.enable`` true is answered 200 and lands in ``sandbox_messages``
instead), 200 (as sandbox), 400, 401, 403, 413, 429 (``X-RateLimit-Limit``,
``X-RateLimit-Remaining: 0``, ``X-RateLimit-Reset`` in epoch seconds, ``reset_in`` from now),
500, 503 (any other status gets a generic error body), and ``"hang"``: hold the connection without
answering until ``release_hangs()`` or ``stop()``, then drop it. ``respond_next("hang", accept=True)``
records the message as accepted before hanging: the lost 202 after which a retry sends twice.

Wire faults, for the errors a real connection produces beneath HTTP (``respond_next(status, fault=...)``):
- ``"truncate"``: the status line and headers go out whole, with a Content-Length larger than the
  body, then the connection closes. A 202 is recorded as accepted first: SendGrid had the message,
  only its (empty) body went missing. The client sees ``http.client.IncompleteRead``;
- ``"reset"``: part of the status line and headers, then a TCP reset (``SO_LINGER`` 0): no answer
  ever arrives whole. A 202 is recorded as accepted, as a real server would have queued it;
- ``"garbage"``: a line that is not an HTTP status line, then close (``http.client.BadStatusLine``);
  nothing is accepted.

Sharp edges:
- urllib sends even 127.0.0.1 through ``http_proxy`` when one is set, unless ``no_proxy`` lists
  127.0.0.1 (``tests/test_fake_sendgrid.py`` sets it with monkeypatch);
- the contract is read from ``tests/contracts/`` when vendored there, else from ``../shared/contracts/``
  beside the project; ``start()`` fails loudly when neither exists;
- recorded header names are lower-cased; ``requests``, ``messages`` and friends return copies taken
  under the lock;
- ``latency`` delays every answer; an accepted message is recorded before that wait ends, as a real
  server would already have queued it.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from openapi_schema_validator import OAS30Validator

MAIL_SEND_PATH = "/v3/mail/send"
HANG = "hang"
Status = int | Literal["hang"]
Fault = Literal["truncate", "reset", "garbage"]
FAULTS: tuple[str, ...] = ("truncate", "reset", "garbage")

CONTRACT_NAME = "sendgrid-mail-v3.openapi.json"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A copy vendored into the repository wins; otherwise the shared reference beside the project.
CONTRACT_CANDIDATES = (
    _PROJECT_ROOT / "tests" / "contracts" / CONTRACT_NAME,
    _PROJECT_ROOT.parent / "shared" / "contracts" / CONTRACT_NAME,
)

# The messages SendGrid itself uses where we know them; the spec's examples elsewhere.
_ERROR_MESSAGES = {
    400: "invalid request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    503: "service unavailable",
}


def contract_path() -> Path:
    for candidate in CONTRACT_CANDIDATES:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in CONTRACT_CANDIDATES)
    raise FileNotFoundError(f"SendGrid's OpenAPI contract {CONTRACT_NAME} is not at any of: {tried}")


@functools.cache
def mail_send_validator() -> Any:
    """The request-body validator of POST /v3/mail/send, built once per process."""
    spec = json.loads(contract_path().read_text(encoding="utf-8"))
    media = spec["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]
    schema = copy.deepcopy(media["schema"])
    schema["components"] = copy.deepcopy(spec["components"])  # so "#/components/..." resolves
    # The format checker is what rejects {"email": "not-an-address"}, as SendGrid does.
    return OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER)


_VALIDATE_LOCK = threading.Lock()


def mail_send_errors(body: Any) -> list[tuple[str, str]]:
    """(JSON path, message) of each way ``body`` breaks the Mail Send contract; empty when valid."""
    with _VALIDATE_LOCK:  # jsonschema fills its reference cache lazily; keep threads out of each other
        errors = list(mail_send_validator().iter_errors(body))
    return sorted((error.json_path, error.message) for error in errors)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # the parsed body; None when there was none or it was not JSON
    received_at: float  # time.monotonic()
    body: bytes = b""


@dataclass(frozen=True)
class _Reply:
    status: Status
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    reset_in: float = 1.0
    accept: bool = False
    fault: Fault | None = None


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    fault: Fault | None = None


def _error_body(message: str, field_name: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field_name, "help": None}]}


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"error {status}"


def _is_sandbox(payload: Any) -> bool:
    try:
        return payload["mail_settings"]["sandbox_mode"]["enable"] is True
    except (KeyError, TypeError):
        return False


def _check_status(status: Status) -> None:
    if status == HANG:
        return
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ValueError(f"status must be an HTTP status 200-599 or {HANG!r}, not {status!r}")


class FakeSendGrid:
    """SendGrid's Mail Send endpoint on http://127.0.0.1:<free port>; see the module docstring."""

    def __init__(self, api_key: str = "SG.test-key", *, latency: float = 0.0, rate_limit: int = 600) -> None:
        self.api_key = api_key
        self.latency = latency
        self.rate_limit = rate_limit  # the X-RateLimit-Limit of a 429
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[_Reply] = deque()
        self._default = _Reply(202)
        self._requests: list[RecordedRequest] = []
        self._messages: list[Any] = []
        self._message_ids: list[str] = []
        self._accepted_at: list[float] = []
        self._sandbox_messages: list[Any] = []
        self._violations: list[str] = []
        self._hangs: set[threading.Event] = set()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeSendGrid:
        if self._server is not None:
            raise RuntimeError("FakeSendGrid is already started")
        mail_send_validator()  # a missing contract fails here, not in a server thread
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-sendgrid-{server.server_address[1]}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hung requests are dropped, so this returns promptly."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        self.release_hangs()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSendGrid is not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """What to pass as ``SendGridAPIClient(api_key, host=...)``."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------------------------

    def respond_next(self, status: Status, times: int = 1, headers: Mapping[str, str] | None = None,
                     body: Any = None, *, reset_in: float = 1.0, accept: bool = False,
                     fault: Fault | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (after the queue already scripted).

        ``headers`` are added to the reply; ``body`` (dict, str or bytes) replaces the default
        one; ``reset_in`` seconds set a 429's X-RateLimit-Reset; ``accept=True`` with "hang"
        records the message as accepted before hanging; ``fault`` breaks the answer on the wire
        (see the module docstring).
        """
        _check_status(status)
        if times < 1:
            raise ValueError("times must be at least 1")
        if accept and status != HANG:
            raise ValueError('accept=True only goes with "hang"')
        if fault is not None and (fault not in FAULTS or status == HANG):
            raise ValueError(f"fault must be one of {FAULTS} with an HTTP status, not {fault!r}")
        reply = _Reply(status, dict(headers or {}), body, reset_in, accept, fault)
        with self._lock:
            self._queue.extend([reply] * times)

    def set_default(self, status: Status, headers: Mapping[str, str] | None = None, body: Any = None,
                    *, reset_in: float = 1.0) -> None:
        """The reply when nothing is scripted (202 at first)."""
        _check_status(status)
        with self._lock:
            self._default = _Reply(status, dict(headers or {}), body, reset_in)

    def release_hangs(self) -> None:
        """Let every request hanging now go (its connection is dropped without an answer)."""
        with self._lock:
            hangs, self._hangs = self._hangs, set()
        for event in hangs:
            event.set()

    def reset(self) -> None:
        """Forget recorded requests, messages and violations, scripted replies and the default."""
        with self._lock:
            self._queue.clear()
            self._default = _Reply(202)
            for records in (self._requests, self._messages, self._message_ids, self._accepted_at,
                            self._sandbox_messages, self._violations):
                records.clear()

    # -- what happened -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[Any]:
        """Bodies answered 202, in order."""
        with self._lock:
            return list(self._messages)

    @property
    def message_ids(self) -> list[str]:
        """The X-Message-Id given to each of ``messages``."""
        with self._lock:
            return list(self._message_ids)

    @property
    def accepted_at(self) -> list[float]:
        """When (``time.monotonic()``, comparable across processes on one machine) each of
        ``messages`` was accepted: what a test needs to tie a duplicate to a crash."""
        with self._lock:
            return list(self._accepted_at)

    @property
    def sandbox_messages(self) -> list[Any]:
        with self._lock:
            return list(self._sandbox_messages)

    @property
    def contract_violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def accepted_count(self) -> int:
        with self._lock:
            return len(self._messages)

    def hanging_count(self) -> int:
        with self._lock:
            return len(self._hangs)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Wait until ``count`` messages were accepted; return them, or fail the test."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(
                    f"fake SendGrid accepted {len(self._messages)} of {count} messages in {timeout}s "
                    f"({len(self._requests)} requests, violations: {self._violations})")
            return list(self._messages)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until ``count`` requests arrived, whatever their answer."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"fake SendGrid got {len(self._requests)} of {count} requests "
                                     f"in {timeout}s")
            return list(self._requests)

    def assert_contract(self) -> None:
        violations = self.contract_violations
        if violations:
            listing = "\n  ".join(violations)
            raise AssertionError(f"requests broke SendGrid's Mail Send contract:\n  {listing}")

    # -- serving (called on server threads) ----------------------------------------------------

    def _handle(self, handler: _Handler) -> _Answer | None:
        """The answer to one request; None means drop the connection without one."""
        method, path = handler.command, urlsplit(handler.path).path
        headers = {name.lower(): value for name, value in handler.headers.items()}
        raw = handler.rfile.read(int(headers.get("content-length") or 0))
        payload, body_problem = self._parse(raw, headers)
        self._record(RecordedRequest(method, path, headers, payload, time.monotonic(), raw))

        where = f"{method} {path}"
        if path != MAIL_SEND_PATH:
            self._violate(f"{where}: the fake serves only POST {MAIL_SEND_PATH}")
            return self._error(404, "not found")
        if method != "POST":
            self._violate(f"{where}: method not allowed")
            return self._error(405, "method not allowed")

        auth_error = self._check_auth(headers.get("authorization"), where)
        problems = self._check_body(headers.get("content-type", ""), payload, body_problem, where)
        if auth_error is not None:
            return auth_error
        if problems:
            return self._answer(400, {}, {"errors": problems})

        with self._lock:
            reply = self._queue.popleft() if self._queue else self._default
        answer = self._reply(reply, payload)
        if answer is not None and reply.fault is not None:
            return _Answer(answer.status, answer.headers, answer.body, reply.fault)
        return answer

    @staticmethod
    def _parse(raw: bytes, headers: Mapping[str, str]) -> tuple[Any, str | None]:
        try:
            if headers.get("content-encoding", "").lower() == "gzip":
                raw = gzip.decompress(raw)
            return json.loads(raw), None
        except (OSError, EOFError, ValueError) as exc:
            return None, f"the request body is not JSON: {exc}"

    def _check_auth(self, authorization: str | None, where: str) -> _Answer | None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme != "Bearer" or not key:
            self._violate(f"{where}: Authorization must be 'Bearer <api key>', got {authorization!r}")
            return self._error(401, "authorization required")
        if key != self.api_key:
            return self._error(401, _ERROR_MESSAGES[401])
        return None

    def _check_body(self, content_type: str, payload: Any, body_problem: str | None,
                    where: str) -> list[dict[str, Any]]:
        if content_type.split(";")[0].strip().lower() != "application/json":
            self._violate(f"{where}: Content-Type must be application/json, got {content_type!r}")
            return [_error_body("Content-Type should be application/json.")["errors"][0]]
        if body_problem is not None:
            self._violate(f"{where}: {body_problem}")
            return [_error_body(body_problem)["errors"][0]]
        problems = []
        for json_path, message in mail_send_errors(payload):
            self._violate(f"{where}: {json_path}: {message}")
            field_name = json_path.removeprefix("$").removeprefix(".") or None
            problems.append(_error_body(message, field_name)["errors"][0])
        return problems

    def _reply(self, reply: _Reply, payload: Any) -> _Answer | None:
        if reply.status == HANG:
            if reply.accept:
                self._accept(payload)
            self._hang()
            return None
        status = int(reply.status)
        headers = dict(reply.headers)
        if status == 202 and _is_sandbox(payload):
            status = 200
        if status == 200:
            with self._changed:
                self._sandbox_messages.append(payload)
            return self._answer(200, headers, reply.body)
        if status == 202:
            if reply.fault == "garbage":  # whatever the server meant, nothing came back to say so
                return self._answer(202, headers, reply.body)
            headers = {"X-Message-Id": self._accept(payload), **headers}
            return self._answer(202, headers, reply.body)
        if status == 429:
            reset = math.ceil(time.time() + reply.reset_in)
            headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(reset), **headers}
        if reply.body is not None or status < 300:
            return self._answer(status, headers, reply.body)
        message = _ERROR_MESSAGES.get(status) or _phrase(status)
        return self._answer(status, headers, _error_body(message))

    def _accept(self, payload: Any) -> str:
        message_id = uuid.uuid4().hex[:22]
        with self._changed:
            self._messages.append(payload)
            self._message_ids.append(message_id)
            self._accepted_at.append(time.monotonic())
            self._changed.notify_all()
        return message_id

    def _hang(self) -> None:
        event = threading.Event()
        with self._lock:
            if self._stopping.is_set():
                return
            self._hangs.add(event)
        event.wait()

    def _record(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _violate(self, violation: str) -> None:
        with self._lock:
            self._violations.append(violation)

    def _error(self, status: int, message: str) -> _Answer:
        return self._answer(status, {}, _error_body(message))

    @staticmethod
    def _answer(status: int, headers: dict[str, str], body: Any) -> _Answer:
        data = _encode(body)
        if data and not any(name.lower() == "content-type" for name in headers):
            headers = {"Content-Type": "application/json", **headers}
        return _Answer(status, headers, data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeSendGrid

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resets: set[socket.socket] = set()
        self._resets_lock = threading.Lock()

    def reset_on_close(self, connection: socket.socket) -> None:
        with self._resets_lock:
            self._resets.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._resets_lock:
            reset = request in self._resets
            self._resets.discard(request)
        if reset:
            # socketserver would shutdown(SHUT_WR) first, which sends a FIN: the client would
            # read a short but clean answer. A plain close with SO_LINGER 0 sends the RST.
            self.close_request(request)
            return
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "nginx"  # what SendGrid's Server header says

    def _serve(self) -> None:
        self.close_connection = True
        fake = self.server.fake
        answer = fake._handle(self)
        if answer is not None and fake.latency > 0 and fake._stopping.wait(fake.latency):
            answer = None  # stopped while waiting
        if answer is None:
            return  # dropped: the client sees the connection close without a response
        try:
            if answer.fault is None:
                self._write(answer, content_length=len(answer.body))
            else:
                self._break(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timed out) before the answer

    def _write(self, answer: _Answer, content_length: int) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(content_length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def _break(self, answer: _Answer) -> None:
        if answer.fault == "truncate":
            # Promise more than is sent (at least one byte more, even for an empty 202), then close.
            self._write(answer, content_length=len(answer.body) + 64)
            self.wfile.flush()
            return
        if answer.fault == "garbage":
            self.wfile.write(b"SMTP? 999 this is not HTTP\r\n\r\n")
            self.wfile.flush()
            return
        # "reset": half an answer, then RST instead of FIN, so the client's next read fails.
        self.wfile.write(f"HTTP/1.1 {answer.status} {_phrase(answer.status)}\r\nX-Message-".encode())
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.server.reset_on_close(self.connection)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean
