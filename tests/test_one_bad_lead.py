"""One lead the worker cannot handle fails alone: named in the log and on Data status.

So does one person's e-mail: a rep's call list, an owner's reminder, a manager's escalation that
cannot be written is noted and tried again, and everyone else's goes out. The failure is provoked
the way it happens, through a value in the database (one no check of ours let in: written by an
older version, or by hand), never by replacing our own functions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from outreach.models import JobProblem, Lead, OutboxMessage
from outreach.runtime import Runtime
from outreach.worker import nag, plan_the_day
from tests.factories import add_customer, add_lead, add_rep
from tests.followup_world import LOS_ANGELES, MON, WED, Team, inbox, local, new_lead, run_worker, team

__all__ = ["team"]  # the fixture, imported for pytest to find

YEAR_ONE = datetime(1, 1, 1, 1, tzinfo=UTC)


def test_a_lead_from_year_one_does_not_stop_the_other_escalations(team: Team, caplog) -> None:
    runtime = team.runtime
    new_lead(runtime, team.lena, "Pat Good", local(MON, 9, 0))
    with runtime.db.session() as session, session.begin():
        bad = add_lead(session, team.lena, "Odd Stamp", created_at=YEAR_ONE)
        bad.next_reminder_at = local(MON, 9, 0)
        bad_id = bad.id
    with caplog.at_level(logging.WARNING):
        run_worker(runtime, local(MON, 9, 0), local(MON + timedelta(days=3), 9, 0))
    sent = inbox(runtime, LOS_ANGELES)
    assert "reminder lena+maria Mon 08:00: Pat" in sent  # the good lead's reminders went on
    assert any(line.startswith("escalation maria") and line.endswith(": Pat") for line in sent)
    assert not any("Odd" in line for line in sent)
    with runtime.db.session() as session:
        [problem] = session.scalars(select(JobProblem))
        assert (problem.job, problem.subject) == ("nag", f"lead {bad_id} (Odd Stamp)")
        assert problem.reason.startswith("OverflowError")
    assert f"lead {bad_id} (Odd Stamp) set aside" in caplog.text


def test_data_status_names_what_was_set_aside_and_a_skipped_sync(demo_app) -> None:  # type: ignore[no-untyped-def]
    from outreach import clock, lease
    from outreach.job_problems import note
    from outreach.sheet.sync import SYNC_LEASE, SYNC_LEASE_TTL, run_sync
    from outreach.worker import LEASE_NAME
    from tests.apptest import MANAGER, open_app

    now = clock.now()
    with demo_app.db.session() as session, session.begin():
        note(session, "nag", "lead 7 (Odd Stamp)", OverflowError("date value out of range"), now)
        note(session, "nag", "lead 7 (Odd Stamp)", OverflowError("date value out of range"), now)
        assert lease.acquire(session, SYNC_LEASE, "a worker mid-sync", now, SYNC_LEASE_TTL)
        assert lease.acquire(session, LEASE_NAME, "the worker", now, SYNC_LEASE_TTL)
    assert run_sync(demo_app.db, demo_app.source(), now).busy
    at = open_app("data_status.py", as_email=MANAGER)
    assert not at.exception
    [table] = [t.value for t in at.dataframe if "what" in t.value.columns]
    assert table[["job", "what", "reason", "times"]].values.tolist() == [
        ["nag", "lead 7 (Odd Stamp)", "OverflowError: date value out of range", 2]]
    assert any(i.value.startswith("Sync skipped just now: another sync was running") for i in at.info)
    assert any("1 set aside" in w.value for w in at.warning)


# -- one person's e-mail fails alone --------------------------------------------------------------

def spoil_the_phone(runtime: Runtime, lead_id: int, phone: str = "call me maybe") -> None:
    """A stored number that cannot be read: every e-mail listing the lead fails to render it."""
    with runtime.db.session() as session, session.begin():
        session.execute(update(Lead).where(Lead.id == lead_id).values(phone=phone))


def queued(runtime: Runtime, kind: str) -> list[str]:
    with runtime.db.session() as session:
        return sorted(session.scalars(select(OutboxMessage.to_email).where(OutboxMessage.kind == kind)))


def set_aside(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.db.session() as session:
        return sorted((p.job, p.subject, p.reason.split(":")[0]) for p in session.scalars(select(JobProblem)))


def test_one_reps_call_list_that_cannot_be_written_does_not_stop_the_others(team: Team) -> None:
    runtime = team.runtime
    with runtime.db.session() as session, session.begin():
        for rep in (team.nick, team.lena):
            for n in range(2):
                add_customer(session, f"Customer{n} Of{rep.name.split()[0]}", owner=rep.email)
    odd = new_lead(runtime, team.nick, "Odd Phone", local(MON, 7, 0))  # on Nick's list, among his leads
    spoil_the_phone(runtime, odd)
    plan_the_day(runtime, local(MON, 10, 45))  # 07:45 in Los Angeles: both lists are due
    assert queued(runtime, "call-list") == ["lena@example.com"]
    assert set_aside(runtime) == [("plans", "the call list to nick@example.com", "NumberParseException")]
    spoil_the_phone(runtime, odd, "+12125550142")  # fixed: the next tick sends Nick's list
    plan_the_day(runtime, local(MON, 10, 50))
    assert queued(runtime, "call-list") == ["lena@example.com", "nick@example.com"]


def test_one_owners_reminder_that_cannot_be_written_does_not_stop_the_others(team: Team) -> None:
    runtime = team.runtime
    odd = new_lead(runtime, team.nick, "Odd Phone", local(MON, 9, 0))
    new_lead(runtime, team.lena, "Pat Good", local(MON, 9, 0, LOS_ANGELES))
    spoil_the_phone(runtime, odd)
    now = local(MON, 12, 10)  # both five-minute reminders are due, both owners at work
    nag(runtime, now)
    assert queued(runtime, "reminder") == ["lena@example.com"]
    assert set_aside(runtime) == [("nag", "the reminder to nick@example.com", "NumberParseException")]
    with runtime.db.session() as session:  # Nick's lead waits an hour, its count untouched
        lead = session.get(Lead, odd)
        assert lead is not None and (lead.next_reminder_at, lead.reminders_sent) == (
            now + timedelta(hours=1), 0)


def test_one_managers_escalation_that_cannot_be_written_does_not_stop_the_others(team: Team) -> None:
    runtime = team.runtime
    with runtime.db.session() as session, session.begin():
        omar = add_rep(session, "omar@example.com", role="manager", name="Omar Other")
        rosa = add_rep(session, "rosa@example.com", manager=omar.email, name="Rosa Rep")
        session.expunge_all()
    odd = new_lead(runtime, team.nick, "Odd Phone", local(MON, 9, 0))  # Nick's manager is Maria
    new_lead(runtime, rosa, "Pat Good", local(MON, 9, 0))
    spoil_the_phone(runtime, odd)
    nag(runtime, local(WED, 10, 0))  # two business days on: both leads are escalated
    assert queued(runtime, "escalation") == ["omar@example.com"]
    assert ("nag", "the escalation to maria@example.com", "NumberParseException") in set_aside(runtime)
    with runtime.db.session() as session:  # not marked: Maria's escalation is tried again
        lead = session.get(Lead, odd)
        assert lead is not None and lead.escalated_at is None
