"""The morning call list: every working day, at 07:30 in each rep's zone, exactly once.

The demo team has reps in New York and Los Angeles. Time is moved with
time-machine; the worker runs its real jobs against the database and the
embedded outbox (or the fake SendGrid).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from outreach import clock
from outreach.mail.mail_transport import SendGridTransport
from outreach.models import Customer, OutboxMessage, Rep, TeamSetting
from outreach.runtime import Runtime
from outreach.sheet.sync import run_sync
from outreach.worker import Job, Worker, deliver_mail, plan_the_day
from tests.factories import add_lead
from tests.fakes.sendgrid_server import FakeSendGrid

NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


def at(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.fixture
def team(runtime: Runtime) -> Runtime:
    """The demo team, synced from its workbook."""
    assert run_sync(runtime.db, runtime.source(), datetime(2026, 10, 1, tzinfo=UTC)).ok
    return runtime


def run_worker(runtime: Runtime, start: datetime, end: datetime,
               step: timedelta = timedelta(minutes=15), holder: str = "worker") -> None:
    worker = Worker(runtime, jobs=[Job("plans", 15, plan_the_day), Job("mail", 5, deliver_mail)],
                    holder=holder)
    with time_machine.travel(start, tick=False) as traveller:
        while clock.now() < end:
            worker.run_once()
            traveller.shift(step)


def call_lists(runtime: Runtime) -> list[tuple[str, OutboxMessage]]:
    with runtime.db.session() as session:
        return list(session.execute(
            select(Rep.email, OutboxMessage).join(Rep, Rep.id == OutboxMessage.rep_id)
            .where(OutboxMessage.kind == "call-list").order_by(OutboxMessage.id)).all())


def sent_local(messages: list[tuple[str, OutboxMessage]], email: str, zone: ZoneInfo) -> list[str]:
    return [m.sent_at.astimezone(zone).strftime("%a %d %H:%M")
            for e, m in messages if e == email and m.status == "sent"]


def test_a_week_with_thanksgiving_in_two_time_zones(team: Runtime) -> None:
    monday = date(2026, 11, 23)
    run_worker(team, at(monday, 0, 0, NEW_YORK), at(monday + timedelta(days=7), 0, 0, NEW_YORK))
    messages = call_lists(team)
    workdays = ["Mon 23 07:30", "Tue 24 07:30", "Wed 25 07:30", "Fri 27 07:30"]  # not Thu 26
    assert sent_local(messages, "jordan.rivera@example.com", NEW_YORK) == workdays
    assert sent_local(messages, "sam.okafor@example.com", LOS_ANGELES) == workdays
    assert sent_local(messages, "maya.chen@example.com", NEW_YORK) == []  # 0 daily calls
    per_rep_day = Counter(m.key for _, m in messages)
    assert set(per_rep_day.values()) == {1}
    assert len(messages) == 4 * 4


def test_the_morning_stays_07_30_across_the_end_of_daylight_saving(team: Runtime) -> None:
    friday = date(2026, 10, 30)  # clocks go back on Sunday 1 November
    run_worker(team, at(friday, 0, 0, NEW_YORK), at(friday + timedelta(days=4), 0, 0, NEW_YORK))
    utc = [m.sent_at.strftime("%a %H:%M") for e, m in call_lists(team)
           if e == "jordan.rivera@example.com"]
    assert utc == ["Fri 11:30", "Mon 12:30"]  # 07:30 EDT, then 07:30 EST
    assert sent_local(call_lists(team), "jordan.rivera@example.com", NEW_YORK) == [
        "Fri 30 07:30", "Mon 02 07:30"]


def test_the_morning_stays_07_30_when_daylight_saving_starts(team: Runtime) -> None:
    friday = date(2027, 3, 12)  # clocks go forward on Sunday 14 March, 02:00 -> 03:00
    run_worker(team, at(friday, 0, 0, NEW_YORK), at(friday + timedelta(days=4), 0, 0, NEW_YORK))
    utc = [m.sent_at.strftime("%a %H:%M") for e, m in call_lists(team)
           if e == "jordan.rivera@example.com"]
    assert utc == ["Fri 12:30", "Mon 11:30"]  # 07:30 EST, then 07:30 EDT
    assert sent_local(call_lists(team), "sam.okafor@example.com", LOS_ANGELES) == [
        "Fri 12 07:30", "Mon 15 07:30"]


def test_a_late_call_list_time_still_catches_up_after_noon(team: Runtime) -> None:
    with team.db.session() as session, session.begin():
        session.add(TeamSetting(key="calllisttime", value="13:00"))
    monday = date(2026, 11, 23)
    run_worker(team, at(monday, 14, 40, NEW_YORK), at(monday, 14, 41, NEW_YORK))
    assert sent_local(call_lists(team), "jordan.rivera@example.com", NEW_YORK) == ["Mon 23 14:40"]


def test_a_worker_down_at_07_30_sends_on_return_before_noon(team: Runtime) -> None:
    monday = date(2026, 11, 23)
    run_worker(team, at(monday, 9, 10, NEW_YORK), at(monday, 9, 11, NEW_YORK))
    assert sent_local(call_lists(team), "jordan.rivera@example.com", NEW_YORK) == ["Mon 23 09:10"]
    assert sent_local(call_lists(team), "sam.okafor@example.com", LOS_ANGELES) == []  # 06:10 there


def test_after_noon_the_call_list_is_skipped_and_logged_never_sent(
        team: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    monday = date(2026, 11, 23)
    with caplog.at_level(logging.WARNING):
        run_worker(team, at(monday, 12, 20, NEW_YORK), at(monday, 13, 0, NEW_YORK))
    jordan = [m for e, m in call_lists(team) if e == "jordan.rivera@example.com"]
    assert [m.status for m in jordan] == ["skipped"]
    assert "worker was not running before 12:00" in jordan[0].last_error
    assert "call list for jordan.rivera@example.com on 2026-11-23 skipped" in caplog.text
    # 12:20 in New York is 09:20 in Los Angeles: before noon there, so Sam still gets his.
    assert sent_local(call_lists(team), "sam.okafor@example.com", LOS_ANGELES) == ["Mon 23 09:20"]


def test_restarts_and_a_second_worker_never_send_it_twice(team: Runtime) -> None:
    monday = date(2026, 11, 23)
    for holder in ("first", "second", "first-again"):
        # Each worker holds the lease in turn (the previous one "died" and its lease lapsed).
        run_worker(team, at(monday, 7, 0, NEW_YORK), at(monday, 11, 0, NEW_YORK),
                   step=timedelta(minutes=20), holder=holder)
    per_key = Counter(m.key for _, m in call_lists(team))
    assert per_key and set(per_key.values()) == {1}


def test_the_e_mail_has_the_customers_the_script_and_overdue_leads_first(team: Runtime) -> None:
    monday = date(2026, 11, 23)
    with team.db.session() as session, session.begin():
        jordan = session.scalar(select(Rep).where(Rep.email == "jordan.rivera@example.com"))
        add_lead(session, jordan, "Fresh Lead", created_at=at(monday, 7, 28, NEW_YORK))
        add_lead(session, jordan, "Old Lead", created_at=at(monday, 6, 0, NEW_YORK) - timedelta(days=2),
                 attempts=2, status="attempted")
        for customer in session.scalars(select(Customer).where(Customer.owner_email == jordan.email)):
            customer.first_name, customer.notes = "<script>alert(1)</script>", "Likes <b>bold</b> & fast"
    run_worker(team, at(monday, 7, 30, NEW_YORK), at(monday, 7, 31, NEW_YORK))
    (message,) = [m for e, m in call_lists(team) if e == "jordan.rivera@example.com"]
    assert message.subject == "Your 3 referral calls for Monday 23 November · 1 overdue lead"
    assert message.html.count('href="tel:+1') >= 3
    assert "who do you know that we should know?" in message.text
    assert "who do you know that we should know?" in message.html
    assert message.text.index("Old Lead") < message.text.index("Fresh Lead")
    assert "2 attempts, no conversation" in message.text
    assert "http://localhost:8501/?lead=" in message.html
    assert "<script>alert(1)</script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "Likes &lt;b&gt;bold&lt;/b&gt; &amp; fast" in message.html
    assert "<script>alert(1)</script>" in message.text  # plain text is not HTML-escaped
    assert "<img" not in message.html


def test_the_call_list_goes_out_through_sendgrid(team: Runtime, sendgrid: FakeSendGrid) -> None:
    team._transport = SendGridTransport("SG.test-key", host=sendgrid.host)
    monday = date(2026, 11, 23)
    run_worker(team, at(monday, 7, 30, NEW_YORK), at(monday, 7, 31, NEW_YORK))
    # 07:30 in New York: Jordan's and Priya's lists (the demo's inbound alerts go out too).
    bodies = [b for b in sendgrid.messages if b["categories"] == ["call-list"]]
    assert sorted(b["personalizations"][0]["to"][0]["email"] for b in bodies) == [
        "jordan.rivera@example.com", "priya.patel@example.com"]
    for body in bodies:
        assert body["categories"] == ["call-list"]
        assert {c["type"] for c in body["content"]} == {"text/plain", "text/html"}
