"""The outbox sends every message once: retries what failed for a while, never doubles, never loses."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from outreach import clock as outreach_clock
from outreach.db import Database
from outreach.mail.mail_transport import EmbeddedOutbox, Sender, SendGridTransport
from outreach.mail.outbox import (
    CLAIM_FOR,
    GIVE_UP_AFTER,
    Email,
    Overtaken,
    cancel_unsent,
    claim,
    deliver_due,
    enqueue,
    renew_claim,
    unsent,
)
from outreach.models import OutboxMessage
from tests.conftest import MONDAY_9AM_NY
from tests.factories import add_rep
from tests.fakes.sendgrid_server import FakeSendGrid, Fault

SENDER = Sender("outreach@example.com", "Outreach")


def email(key: str = "alert:1", kind: str = "alert", cc: tuple[str, ...] = ()) -> Email:
    return Email(key=key, kind=kind, to_email="ann@example.com", to_name="Ann Archer",
                 subject="New lead: Dana Whitfield", text="Call Dana now.",
                 html="<p>Call Dana now.</p>", cc=cc)


def add(db: Database, *emails: Email, at: datetime = MONDAY_9AM_NY) -> None:
    with db.session() as session, session.begin():
        for message in emails:
            enqueue(session, message, at)


def messages(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def transport(fake: FakeSendGrid, timeout: float = 2.0) -> SendGridTransport:
    return SendGridTransport("SG.test-key", host=fake.host, timeout=timeout)


def clock(start: datetime = MONDAY_9AM_NY):  # type: ignore[no-untyped-def]
    now = [start]
    return now, (lambda: now[0])


clock_now = outreach_clock.now


def test_the_same_decision_twice_is_one_message(database: Database) -> None:
    add(database, email(), email())
    with database.session() as session, session.begin():
        assert enqueue(session, email("alert:2"), MONDAY_9AM_NY) is True
        assert enqueue(session, email("alert:2"), MONDAY_9AM_NY) is False
    assert [m.key for m in messages(database)] == ["alert:1", "alert:2"]


def test_sendgrid_gets_a_valid_request_with_category_and_custom_args(
        database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email(cc=("maya@example.com", "ann@example.com")))
    _, now = clock()
    report = deliver_due(database, transport(sendgrid), SENDER, "w1", now)
    assert report.sent == 1
    (body,) = sendgrid.messages
    assert body["categories"] == ["alert"]
    (personalization,) = body["personalizations"]
    assert personalization["custom_args"] == {"outreach_key": "alert:1"}
    assert personalization["cc"] == [{"email": "maya@example.com"}]  # the owner is not copied twice
    assert body["from"] == {"email": "outreach@example.com", "name": "Outreach"}
    (sent,) = messages(database)
    assert sent.status == "sent" and sent.transport == "sendgrid"
    assert sent.provider_message_id == sendgrid.message_ids[0]


def test_sandbox_mode_is_sent_as_sandbox(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email())
    sandbox = SendGridTransport("SG.test-key", host=sendgrid.host, sandbox=True)
    assert deliver_due(database, sandbox, SENDER, "w1", clock()[1]).sent == 1
    assert len(sendgrid.sandbox_messages) == 1 and not sendgrid.messages


def test_rate_limit_pauses_every_send_until_the_reset(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email("alert:1"), email("alert:2"), email("alert:3"))
    sendgrid.respond_next(429, reset_in=120)
    with time_machine.travel(MONDAY_9AM_NY, tick=False) as traveller:
        one_account = transport(sendgrid)  # the fake's reset header and our clock read the same time
        report = deliver_due(database, one_account, SENDER, "w1", clock_now, threads=1)
        assert report.retried == 3 and len(sendgrid.requests) == 1  # the other two never left
        waiting = messages(database)
        assert {m.status for m in waiting} == {"pending"}
        assert all(m.next_attempt_at - MONDAY_9AM_NY >= timedelta(seconds=120) for m in waiting)
        assert [m.attempts for m in waiting] == [1, 0, 0]  # a send refused locally is no attempt
        traveller.shift(timedelta(seconds=60))
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).handled == 0
        traveller.shift(timedelta(seconds=70))
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).sent == 3
    assert len(sendgrid.requests) == 4


def test_a_rate_limit_also_holds_back_messages_due_later(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email("alert:1"))
    sendgrid.respond_next(429, reset_in=120)
    with time_machine.travel(MONDAY_9AM_NY, tick=False) as traveller:
        one_account = transport(sendgrid)
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).retried == 1
        traveller.shift(timedelta(seconds=30))
        add(database, email("alert:2"), at=clock_now())
        # While paused nothing is even claimed: no write per message just to reschedule it.
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).handled == 0
        assert {m.key: m.attempts for m in messages(database)} == {"alert:1": 1, "alert:2": 0}
        traveller.shift(timedelta(seconds=100))
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).sent == 2
    assert len(sendgrid.requests) == 3


@pytest.mark.parametrize("failure", [500, 503, "hang"])
def test_server_errors_and_timeouts_are_retried_with_backoff(
        database: Database, sendgrid: FakeSendGrid, failure: int | str) -> None:
    add(database, email())
    sendgrid.respond_next(failure, times=3)
    now, tick = clock()
    waits = []
    for _ in range(3):
        report = deliver_due(database, transport(sendgrid, timeout=0.3), SENDER, "w1", tick)
        assert report.retried == 1
        (pending,) = messages(database)
        waits.append(pending.next_attempt_at - now[0])
        now[0] = pending.next_attempt_at
    sendgrid.release_hangs()
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", tick).sent == 1
    assert waits == sorted(waits) and waits[0] >= timedelta(seconds=30)
    assert messages(database)[0].attempts == 4


@pytest.mark.parametrize(("status", "hint"), [(400, "refused the message"), (401, "SENDGRID_API_KEY")])
def test_client_errors_fail_for_good_with_a_reason(
        database: Database, sendgrid: FakeSendGrid, status: int, hint: str) -> None:
    add(database, email())
    sendgrid.respond_next(status)
    report = deliver_due(database, transport(sendgrid), SENDER, "w1", clock()[1])
    assert report.failed == 1
    (failed,) = messages(database)
    assert failed.status == "failed" and hint in failed.last_error
    assert "SG.test-key" not in failed.last_error
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", clock()[1]).handled == 0


def test_a_lapsed_claim_is_picked_up_by_another_worker(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email())
    assert len(claim(database, "crashed-worker", MONDAY_9AM_NY)) == 1  # claimed, then the worker died
    assert claim(database, "w2", MONDAY_9AM_NY + CLAIM_FOR / 2) == []
    late = MONDAY_9AM_NY + CLAIM_FOR + timedelta(seconds=1)
    assert deliver_due(database, transport(sendgrid), SENDER, "w2", lambda: late).sent == 1


def test_concurrent_workers_never_send_a_message_twice(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, *(email(f"alert:{n}") for n in range(60)))
    start = threading.Barrier(4)

    def work(name: str) -> None:
        start.wait()
        while deliver_due(database, transport(sendgrid), SENDER, name, clock()[1], limit=7).handled:
            pass

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = [b["personalizations"][0]["custom_args"]["outreach_key"] for b in sendgrid.messages]
    assert sorted(keys) == sorted(f"alert:{n}" for n in range(60))
    assert all(m.status == "sent" for m in messages(database))


def test_embedded_outbox_keeps_the_mail_for_the_app(database: Database) -> None:
    add(database, email())
    assert deliver_due(database, EmbeddedOutbox(), SENDER, "w1", clock()[1]).sent == 1
    (kept,) = messages(database)
    assert kept.transport == "outbox" and kept.html == "<p>Call Dana now.</p>"


def test_a_slow_batch_whose_claim_lapsed_never_sends_a_message_twice(
        database: Database, sendgrid: FakeSendGrid) -> None:
    """Worker A hangs on its first message past the claim; B takes the batch; A must not resend."""
    add(database, email("alert:1"), email("alert:2"), email("alert:3"))
    now, tick = clock()
    sendgrid.respond_next("hang")
    reports = {}

    def slow_worker() -> None:
        reports["a"] = deliver_due(database, transport(sendgrid, timeout=5), SENDER, "a", tick, threads=1)

    first = threading.Thread(target=slow_worker)
    first.start()
    sendgrid.wait_for_requests(1)
    now[0] = MONDAY_9AM_NY + CLAIM_FOR + timedelta(seconds=1)  # A's claim has lapsed
    reports["b"] = deliver_due(database, transport(sendgrid), SENDER, "b", tick)
    sendgrid.release_hangs()
    first.join()
    keys = [b["personalizations"][0]["custom_args"]["outreach_key"] for b in sendgrid.messages]
    assert sorted(keys) == ["alert:1", "alert:2", "alert:3"]
    assert reports["b"].sent == 3 and reports["a"].lost == 3 and reports["a"].handled == 0
    assert {m.status for m in messages(database)} == {"sent"}


def test_a_202_after_the_claim_lapsed_is_still_recorded_and_stops_the_next_claimer(
        database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email())
    sendgrid.latency = 0.5
    now, tick = clock()
    done = threading.Thread(target=deliver_due,
                            args=(database, transport(sendgrid), SENDER, "a", tick))
    done.start()
    sendgrid.wait_for(1)  # accepted; the answer is on its way
    now[0] = MONDAY_9AM_NY + CLAIM_FOR + timedelta(seconds=1)
    late_claim = claim(database, "b", now[0])
    done.join()
    (row,) = messages(database)
    assert row.status == "sent" and len(late_claim) == 1
    assert not renew_claim(database, late_claim[0], now[0])  # so B never sends it again
    assert len(sendgrid.messages) == 1


def test_a_stopping_worker_hands_the_rest_of_its_batch_back(
        database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, *(email(f"alert:{n}") for n in range(5)))
    answers = iter([True, True])
    report = deliver_due(database, transport(sendgrid), SENDER, "w1", clock()[1], threads=1,
                         keep_going=lambda: next(answers, False))
    assert (report.sent, report.released) == (2, 3)
    handed_back = [m for m in messages(database) if m.status == "pending"]
    assert len(handed_back) == 3 and all(m.claimed_by is None for m in handed_back)
    assert len(claim(database, "w2", MONDAY_9AM_NY)) == 3  # at once, not after the claim lapses


def test_a_new_alert_jumps_a_backlog_of_reminders(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, *(email(f"reminder:{n}:1", kind="reminder") for n in range(3)))
    add(database, email("alert:9"), at=MONDAY_9AM_NY + timedelta(minutes=1))
    late = MONDAY_9AM_NY + timedelta(minutes=2)
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", lambda: late, limit=1).sent == 1
    (first,) = sendgrid.messages
    assert first["personalizations"][0]["custom_args"]["outreach_key"] == "alert:9"


def test_a_message_that_waited_days_still_gets_a_day_of_retries(database: Database,
                                                                 sendgrid: FakeSendGrid) -> None:
    """An escalation held over a weekend for its reader's opening meets a SendGrid outage on Monday."""
    add(database, email("escalation:7", kind="escalation"), at=MONDAY_9AM_NY - timedelta(days=3))
    sendgrid.set_default(500)
    now, tick = clock()
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", tick).retried == 1
    (waiting,) = messages(database)
    assert (waiting.status, waiting.first_attempt_at) == ("pending", MONDAY_9AM_NY)
    now[0] = MONDAY_9AM_NY + GIVE_UP_AFTER + timedelta(minutes=1)  # a day of failures later
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", tick).failed == 1


def test_a_202_cut_short_is_sent_once_and_never_again(database: Database, sendgrid: FakeSendGrid) -> None:
    """The status line and X-Message-Id arrived, then the connection closed mid-body."""
    add(database, email())
    sendgrid.respond_next(202, fault="truncate")
    for seconds in range(0, 151, 5):  # a worker's passes for two and a half minutes
        at = MONDAY_9AM_NY + timedelta(seconds=seconds)
        deliver_due(database, transport(sendgrid), SENDER, "w1", lambda at=at: at)
    (sent,) = messages(database)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert sent.provider_message_id == sendgrid.message_ids[0]
    assert len(sendgrid.requests) == 1


@pytest.mark.parametrize(("status", "fault", "says"), [
    (202, "reset", "ConnectionResetError"),  # it may have been accepted: at-least-once, so retry
    (202, "garbage", "BadStatusLine"),
    (500, "truncate", "server error (500)"),
    (503, "reset", "ConnectionResetError"),
])
def test_a_broken_answer_is_retried_with_its_reason(database: Database, sendgrid: FakeSendGrid,
                                                    status: int, fault: Fault, says: str) -> None:
    add(database, email())
    sendgrid.respond_next(status, fault=fault)
    now, tick = clock()
    report = deliver_due(database, transport(sendgrid), SENDER, "w1", tick)
    assert report.retried == 1 and says in report.errors[0]
    (waiting,) = messages(database)
    assert (waiting.status, waiting.attempts, waiting.claimed_by) == ("pending", 1, None)
    assert says in waiting.last_error
    now[0] = waiting.next_attempt_at
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", tick).sent == 1


def test_a_401_whose_body_is_cut_still_fails_for_good(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email())
    sendgrid.respond_next(401, fault="truncate")
    assert deliver_due(database, transport(sendgrid), SENDER, "w1", clock()[1]).failed == 1
    (failed,) = messages(database)
    assert failed.status == "failed" and "SENDGRID_API_KEY" in failed.last_error


def test_a_429_whose_body_is_cut_still_pauses_until_its_reset(database: Database,
                                                              sendgrid: FakeSendGrid) -> None:
    add(database, email())
    sendgrid.respond_next(429, reset_in=120, fault="truncate")
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        one_account = transport(sendgrid)
        assert deliver_due(database, one_account, SENDER, "w1", clock_now).retried == 1
        assert one_account.paused_until() is not None
    (waiting,) = messages(database)
    assert waiting.next_attempt_at - MONDAY_9AM_NY >= timedelta(seconds=120)


def test_a_message_that_breaks_the_transport_fails_alone(database: Database, sendgrid: FakeSendGrid) -> None:
    add(database, email("alert:1"), email("alert:2"), email("alert:3"))
    with database.session() as session, session.begin():  # a row no code path should write
        session.execute(update(OutboxMessage).where(OutboxMessage.key == "alert:2").values(cc=None))
    report = deliver_due(database, transport(sendgrid), SENDER, "w1", clock()[1], threads=1)
    assert (report.sent, report.retried) == (2, 1)
    broken = {m.key: m for m in messages(database)}["alert:2"]
    assert (broken.status, broken.attempts, broken.claimed_by) == ("pending", 1, None)
    assert broken.last_error.startswith("unexpected TypeError from sendgrid: ")
    assert report.errors == [broken.last_error]
    assert broken.next_attempt_at - MONDAY_9AM_NY >= timedelta(seconds=30)  # not resent every pass
    assert sendgrid.accepted_count() == 2


def reminders_to_one_rep(db: Database, *names: str) -> int:
    with db.session() as session, session.begin():
        rep_id = add_rep(session, "ann@example.com").id
        for name in names:
            enqueue(session, Email(key=name, kind="reminder", to_email="ann@example.com", subject=name,
                                   text=name, html=name, rep_id=rep_id), MONDAY_9AM_NY)
    return rep_id


def test_a_newer_message_replaces_any_not_yet_handed_to_sendgrid(database: Database) -> None:
    """Waiting, claimed with a batch but not reached yet, or a claim that lapsed: replaced (the claimed
    one's renewal then fails, so it never goes). One whose sender renewed its claim to send it may be in
    SendGrid's hands: it goes."""
    rep_id = reminders_to_one_rep(database, "waits", "claimed", "in-flight", "lapsed")
    claim(database, "dead-worker", MONDAY_9AM_NY - CLAIM_FOR - timedelta(seconds=1), keys=["lapsed"])
    (claimed,) = claim(database, "w1", MONDAY_9AM_NY, keys=["claimed"])  # one of w1's 100, not its turn yet
    (in_flight,) = claim(database, "w2", MONDAY_9AM_NY, keys=["in-flight"])
    assert renew_claim(database, in_flight, MONDAY_9AM_NY)  # w2's last step before the send
    now = MONDAY_9AM_NY + timedelta(seconds=5)
    with database.session() as session, session.begin():
        mail = unsent(session, "reminder", rep_id, now)
        assert (mail.waiting, mail.in_flight) == (["waits", "claimed", "lapsed"], ["in-flight"])
        cancel_unsent(session, mail.waiting, "replaced", now)
    assert not renew_claim(database, claimed, now)  # so w1 leaves it alone
    assert {m.key: m.status for m in messages(database)} == {
        "waits": "cancelled", "claimed": "cancelled", "in-flight": "sending", "lapsed": "cancelled"}


def test_a_message_a_sender_began_after_it_was_read_as_waiting_is_not_cancelled(database: Database) -> None:
    """The newer message would repeat it: the outbox says so, and the caller's transaction rolls back."""
    rep_id = reminders_to_one_rep(database, "waits")
    with pytest.raises(Overtaken), database.session() as session, session.begin():
        mail = unsent(session, "reminder", rep_id, MONDAY_9AM_NY)
        (taken,) = claim(database, "w1", MONDAY_9AM_NY)  # another worker, between the read and the cancel,
        assert renew_claim(database, taken, MONDAY_9AM_NY)  # is past the point of no return
        cancel_unsent(session, mail.waiting, "replaced", MONDAY_9AM_NY)
    assert [m.status for m in messages(database)] == ["sending"]


def test_a_message_only_claimed_after_it_was_read_as_waiting_is_still_replaced(database: Database) -> None:
    rep_id = reminders_to_one_rep(database, "waits")
    with database.session() as session, session.begin():
        mail = unsent(session, "reminder", rep_id, MONDAY_9AM_NY)
        (taken,) = claim(database, "w1", MONDAY_9AM_NY)  # another worker, between the read and the cancel
        cancel_unsent(session, mail.waiting, "replaced", MONDAY_9AM_NY)
    assert not renew_claim(database, taken, MONDAY_9AM_NY)
    assert [m.status for m in messages(database)] == ["cancelled"]


def test_a_claimed_message_goes_through_claimed_then_sending(database: Database) -> None:
    """Claimed: nobody else takes it, a newer one may still replace it. Renewed: it is about to be sent."""
    add(database, email())
    (message,) = claim(database, "w1", MONDAY_9AM_NY)
    assert [m.status for m in messages(database)] == ["claimed"]
    assert claim(database, "w2", MONDAY_9AM_NY) == []
    assert renew_claim(database, message, MONDAY_9AM_NY)
    assert [m.status for m in messages(database)] == ["sending"]
    assert not renew_claim(database, message, MONDAY_9AM_NY)  # once: the renewal is the point of no return


def test_a_message_an_older_version_left_sending_is_in_flight_until_its_claim_lapses(
        database: Database) -> None:
    """Before "claimed" existed a claim was "sending" from the start: after an upgrade such a row is left
    alone while its claim is live, and is waiting again (replaced, or claimed and sent) once it lapses."""
    rep_id = reminders_to_one_rep(database, "live", "lapsed")
    with database.session() as session, session.begin():
        for key, until in (("live", MONDAY_9AM_NY + CLAIM_FOR),
                           ("lapsed", MONDAY_9AM_NY - timedelta(seconds=1))):
            session.execute(update(OutboxMessage).where(OutboxMessage.key == key)
                            .values(status="sending", claimed_by="old-worker:1", claimed_until=until))
    with database.session() as session:
        mail = unsent(session, "reminder", rep_id, MONDAY_9AM_NY)
    assert (mail.waiting, mail.in_flight) == (["lapsed"], ["live"])
    report = deliver_due(database, EmbeddedOutbox(), SENDER, "w1", clock()[1])
    assert report.sent == 1
    assert {m.key: m.status for m in messages(database)} == {"live": "sending", "lapsed": "sent"}


def test_a_name_or_subject_longer_than_its_column_is_cut_not_refused(database: Database) -> None:
    """A customer's two 150-character names make a 301-character To name; PostgreSQL holds 200."""
    from dataclasses import replace

    long = replace(email(), to_name="N" * 301, subject="S" * 700, from_name="F" * 250,
                   reply_to=("rep@example.com", "R" * 250))
    add(database, long)
    (message,) = messages(database)
    assert (len(message.to_name), len(message.subject), len(message.from_name),
            len(message.reply_to_name)) == (200, 500, 200, 200)
    assert message.to_name.endswith("…") and message.subject.startswith("S" * 499)
