"""The fake SendGrid answers the real ``sendgrid`` client the way SendGrid does, and holds us to the contract.

These tests pin what the library really raises (for the mail transport to catch): HTTP errors are
``python_http_client.exceptions.HTTPError`` subclasses with ``.status_code``, ``.body`` (bytes) and
``.headers`` (an ``http.client.HTTPMessage``, case-insensitive); a read timeout is a bare
``TimeoutError`` (not wrapped in ``URLError``); a refused connection is ``urllib.error.URLError``.
Beneath HTTP: a body cut short is ``http.client.IncompleteRead`` (an ``HTTPException``, not an
``OSError``), even for a 401 whose error body the library was reading; a reset connection is a bare
``ConnectionResetError``; a garbage status line is ``http.client.BadStatusLine``.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import BadStatusLine, HTTPMessage, IncompleteRead, RemoteDisconnected

import pytest
from python_http_client.exceptions import (
    BadRequestsError,
    ForbiddenError,
    HTTPError,
    InternalServerError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    CustomArg,
    From,
    Mail,
    MailSettings,
    Personalization,
    SandBoxMode,
    To,
)

from tests.fakes.sendgrid_server import FakeSendGrid, mail_send_errors

KEY = "SG.test-key"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib sends even 127.0.0.1 through http_proxy unless no_proxy says otherwise."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sg(fake: FakeSendGrid) -> SendGridAPIClient:
    client = SendGridAPIClient(KEY, host=fake.host)
    client.client.timeout = 5  # the library waits forever by default
    return client


def referral_mail(outbox_key: str = "outbox-1", to: str = "carla@example.org") -> Mail:
    mail = Mail(from_email=From("ann@example.com", "Ann Archer"), subject="Who else should we help?",
                plain_text_content="Hi Carla, who do you know ...",
                html_content="<p>Hi Carla, who do you know ...</p>")
    personalization = Personalization()
    personalization.add_to(To(to, "Carla Diaz"))
    personalization.add_custom_arg(CustomArg("outbox_key", outbox_key))
    mail.add_personalization(personalization)
    mail.add_category(Category("referral"))
    mail.add_category(Category("outreach"))
    return mail


def sandboxed(mail: Mail) -> Mail:
    settings = MailSettings()
    settings.sandbox_mode = SandBoxMode(True)
    mail.mail_settings = settings
    return mail


def raw_post(fake: FakeSendGrid, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"{fake.host}/v3/mail/send", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_accepted_mail_gets_202_and_a_message_id(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    mail = referral_mail()
    response = sg.send(mail)

    assert response.status_code == 202
    assert response.body == b""
    assert isinstance(response.headers, HTTPMessage)
    assert response.headers["X-Message-Id"] == response.headers["x-message-id"] == fake.message_ids[0]
    assert fake.messages == [mail.get()]
    assert fake.accepted_count() == 1
    body = fake.messages[0]
    assert body["personalizations"][0]["custom_args"] == {"outbox_key": "outbox-1"}
    assert sorted(body["categories"]) == ["outreach", "referral"]  # the library prepends each one
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    (request,) = fake.requests
    assert (request.method, request.path, request.json) == ("POST", "/v3/mail/send", body)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.received_at <= time.monotonic()
    fake.assert_contract()


def test_message_ids_are_unique_under_concurrent_sends(fake: FakeSendGrid) -> None:
    def send(i: int) -> str:
        client = SendGridAPIClient(KEY, host=fake.host)
        client.client.timeout = 5
        return str(client.send(referral_mail(f"outbox-{i}")).headers["X-Message-Id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(send, range(40)))

    assert len(fake.wait_for(40, timeout=5)) == 40
    assert len(set(ids)) == 40
    assert sorted(ids) == sorted(fake.message_ids)
    keys = {m["personalizations"][0]["custom_args"]["outbox_key"] for m in fake.messages}
    assert keys == {f"outbox-{i}" for i in range(40)}
    fake.assert_contract()


def test_sandbox_mode_answers_200_and_sends_nothing(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    response = sg.send(sandboxed(referral_mail()))

    assert response.status_code == 200
    assert "X-Message-Id" not in response.headers
    assert fake.messages == []
    assert len(fake.sandbox_messages) == 1
    fake.assert_contract()


def test_a_wrong_key_is_401_with_sendgrids_error_body(fake: FakeSendGrid) -> None:
    client = SendGridAPIClient("SG.wrong", host=fake.host)
    client.client.timeout = 5

    with pytest.raises(UnauthorizedError) as caught:
        client.send(referral_mail())

    assert caught.value.status_code == 401
    assert caught.value.to_dict == {"errors": [{
        "message": "The provided authorization grant is invalid, expired, or revoked",
        "field": None, "help": None}]}
    assert fake.messages == []
    fake.assert_contract()  # a wrong key is a test's choice, not a client bug


def test_429_carries_the_rate_limit_headers(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(429, reset_in=2)

    with pytest.raises(TooManyRequestsError) as caught:
        sg.send(referral_mail())

    headers = caught.value.headers
    assert isinstance(headers, HTTPMessage)
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Limit"] == "600"
    assert 1 <= int(headers["x-ratelimit-reset"]) - time.time() <= 3
    assert json.loads(caught.value.body)["errors"][0]["message"] == "too many requests"
    assert sg.send(referral_mail()).status_code == 202  # the script is used up
    assert fake.accepted_count() == 1


def test_scripted_errors_run_out_then_the_default_answers(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(500, times=2)
    fake.respond_next(400, body={"errors": [{"message": "bad", "field": "subject", "help": None}]},
                      headers={"X-Extra": "1"})

    for _ in range(2):
        with pytest.raises(InternalServerError) as caught:
            sg.send(referral_mail())
        assert caught.value.status_code == 500
    with pytest.raises(BadRequestsError) as bad:
        sg.send(referral_mail())
    assert bad.value.to_dict["errors"][0]["field"] == "subject"
    assert bad.value.headers["X-Extra"] == "1"
    assert sg.send(referral_mail()).status_code == 202
    assert (fake.accepted_count(), len(fake.requests)) == (1, 4)
    fake.assert_contract()


@pytest.mark.parametrize(("status", "error"), [
    (400, BadRequestsError), (403, ForbiddenError), (413, PayloadTooLargeError),
    (500, InternalServerError), (503, ServiceUnavailableError),
])
def test_each_status_raises_its_error(fake: FakeSendGrid, sg: SendGridAPIClient, status: int,
                                      error: type[HTTPError]) -> None:
    fake.set_default(status)

    with pytest.raises(error) as caught:
        sg.send(referral_mail())

    assert caught.value.status_code == status
    assert set(caught.value.to_dict["errors"][0]) == {"message", "field", "help"}
    assert fake.messages == []


def test_a_hung_request_times_out_with_a_bare_timeout_error(fake: FakeSendGrid,
                                                            sg: SendGridAPIClient) -> None:
    fake.respond_next("hang")
    sg.client.timeout = 0.5

    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:  # socket.timeout is TimeoutError since Python 3.10
        sg.send(referral_mail())

    assert 0.4 < time.monotonic() - started < 3
    assert not isinstance(caught.value, urllib.error.URLError)
    assert fake.hanging_count() == 1
    assert fake.messages == []
    fake.release_hangs()
    assert fake.hanging_count() == 0
    assert sg.send(referral_mail()).status_code == 202


def test_a_lost_202_counts_as_sent(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next("hang", accept=True)
    sg.client.timeout = 0.3

    with pytest.raises(TimeoutError):
        sg.send(referral_mail())

    assert fake.accepted_count() == 1  # SendGrid has it; a blind retry would send it twice


def test_acceptance_is_timed_before_the_latency_so_a_crash_window_can_be_measured() -> None:
    with FakeSendGrid(latency=0.3) as fake:
        client = SendGridAPIClient(KEY, host=fake.host)
        client.client.timeout = 5
        started = time.monotonic()
        client.send(referral_mail("outbox-1"))
        client.send(referral_mail("outbox-2"))
        answered = time.monotonic()
        first, second = fake.accepted_at
        assert started <= first < first + 0.3 <= second < answered - 0.3


def test_latency_delays_every_answer() -> None:
    with FakeSendGrid(latency=0.3) as fake:
        client = SendGridAPIClient(KEY, host=fake.host)
        client.client.timeout = 5
        started = time.monotonic()
        assert client.send(referral_mail()).status_code == 202
        assert time.monotonic() - started >= 0.3


def test_stop_is_prompt_with_a_hung_request_and_then_refuses(fake: FakeSendGrid) -> None:
    fake.set_default("hang")
    errors: list[BaseException] = []

    def send_without_timeout() -> None:
        try:
            SendGridAPIClient(KEY, host=fake.host).send(referral_mail())
        except BaseException as exc:
            errors.append(exc)

    sender = threading.Thread(target=send_without_timeout, daemon=True)
    sender.start()
    fake.wait_for_requests(1)
    host = fake.host
    started = time.monotonic()
    fake.stop()

    assert time.monotonic() - started < 1
    sender.join(timeout=5)
    assert [type(e) for e in errors] == [RemoteDisconnected]  # dropped without an answer
    client = SendGridAPIClient(KEY, host=host)
    client.client.timeout = 1
    with pytest.raises(urllib.error.URLError) as refused:
        client.send(referral_mail())
    assert isinstance(refused.value.reason, ConnectionRefusedError)


def test_a_top_level_custom_args_object_breaks_the_contract(fake: FakeSendGrid,
                                                            sg: SendGridAPIClient) -> None:
    mail = referral_mail()
    mail.custom_arg = CustomArg("outbox_key", "outbox-1")  # the library puts this at the top level

    with pytest.raises(BadRequestsError) as caught:
        sg.send(mail)

    assert caught.value.to_dict["errors"][0]["field"] == "custom_args"
    assert fake.messages == []
    assert len(fake.contract_violations) == 1
    assert "$.custom_args" in fake.contract_violations[0]
    with pytest.raises(AssertionError, match="custom_args"):
        fake.assert_contract()


def test_a_mail_without_from_breaks_the_contract(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    mail = Mail(to_emails="carla@example.org", subject="Hi", plain_text_content="Hello")
    fake.respond_next(429)

    with pytest.raises(BadRequestsError) as caught:  # checked before any scripted reply
        sg.send(mail)

    assert "'from' is a required property" in caught.value.to_dict["errors"][0]["message"]
    assert fake.contract_violations == ["POST /v3/mail/send: $: 'from' is a required property"]
    with pytest.raises(TooManyRequestsError):  # the scripted reply is still waiting
        sg.send(referral_mail())


def test_the_validator_reads_sendgrids_contract() -> None:
    assert mail_send_errors(referral_mail().get()) == []
    assert mail_send_errors(sandboxed(referral_mail()).get()) == []
    bad_address = dict(referral_mail().get(), **{"from": {"email": "not-an-address"}})
    assert mail_send_errors(bad_address) == [("$.from.email", "'not-an-address' is not a 'email'")]


def test_headers_are_checked_too(fake: FakeSendGrid) -> None:
    body = json.dumps(referral_mail().get()).encode()

    assert raw_post(fake, body, {"Content-Type": "application/json"}) == 401
    assert raw_post(fake, body, {"Authorization": f"Bearer {KEY}", "Content-Type": "text/plain"}) == 400
    assert raw_post(fake, b"{not json", {"Authorization": f"Bearer {KEY}",
                                         "Content-Type": "application/json"}) == 400
    assert raw_post(fake, gzip.compress(body), {"Authorization": f"Bearer {KEY}", "Content-Encoding": "gzip",
                                                "Content-Type": "application/json"}) == 202
    violations = fake.contract_violations
    assert len(violations) == 3
    assert "Authorization" in violations[0]
    assert "Content-Type" in violations[1]
    assert "not JSON" in violations[2]
    assert fake.accepted_count() == 1


def test_wait_for_fails_the_test_when_too_few_arrive(fake: FakeSendGrid) -> None:
    with pytest.raises(AssertionError, match="accepted 0 of 1"):
        fake.wait_for(1, timeout=0.1)


def test_only_real_statuses_can_be_scripted(fake: FakeSendGrid) -> None:
    for status in (99, 600, "slow", True):
        with pytest.raises(ValueError):
            fake.respond_next(status)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fake.respond_next(202, accept=True)
    for bad in ({"status": 202, "fault": "slow"}, {"status": "hang", "fault": "reset"}):
        with pytest.raises(ValueError):
            fake.respond_next(**bad)  # type: ignore[arg-type]


def test_a_202_cut_short_is_an_incomplete_read_after_the_message_was_accepted(
        fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(202, fault="truncate")

    with pytest.raises(IncompleteRead) as caught:
        sg.send(referral_mail())

    assert not isinstance(caught.value, OSError)  # so `except OSError` does not catch it
    assert caught.value.__context__ is None  # nothing else went wrong: the status was a 2xx
    assert fake.accepted_count() == 1
    assert sg.send(referral_mail()).status_code == 202  # only that one answer was broken
    fake.assert_contract()


def test_an_error_body_cut_short_hides_the_status_behind_an_incomplete_read(
        fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(401, fault="truncate")

    with pytest.raises(IncompleteRead) as caught:  # not UnauthorizedError: sendgrid-python#966
        sg.send(referral_mail())

    cause = caught.value.__context__  # the library was reading urllib's HTTPError when it broke
    assert isinstance(cause, urllib.error.HTTPError) and cause.code == 401
    assert fake.accepted_count() == 0


def test_a_reset_mid_answer_is_a_connection_reset(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(202, fault="reset")

    with pytest.raises(ConnectionResetError):
        sg.send(referral_mail())

    assert fake.accepted_count() == 1  # SendGrid may well have it: a retry can send it twice


def test_a_garbage_status_line_is_a_bad_status_line(fake: FakeSendGrid, sg: SendGridAPIClient) -> None:
    fake.respond_next(202, fault="garbage")

    with pytest.raises(BadStatusLine) as caught:
        sg.send(referral_mail())

    assert not isinstance(caught.value, OSError)
    assert fake.accepted_count() == 0
