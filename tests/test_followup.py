"""The follow-up engine, end to end: alert at once, then nag until a conversation.

Each test builds a small team (a manager in New York, a rep in New York and one
in Los Angeles), creates a lead at a known moment, and lets the real worker
jobs (nag + mail, through the embedded outbox) run while time-machine moves
the clock. The worker wakes at every quarter hour and at every reminder the
database says is due, so each e-mail's ``sent_at`` is the moment the schedule
asked for. The expected times are read as the owner's local wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach import clock
from outreach.access import NotAllowed, Viewer
from outreach.followup import start_following_up
from outreach.leads import close_as_duplicate, log_followup, reassign
from outreach.models import Lead, OutboxMessage, Rep
from outreach.runtime import Runtime, team_settings
from outreach.worker import Job, Worker, deliver_mail, nag
from tests.factories import add_lead, add_rep

NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
QUARTER = timedelta(minutes=15)


def local(day: date, hour: int, minute: int, zone: ZoneInfo = NEW_YORK) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


MON, TUE, WED, THU, FRI = (date(2026, 11, 16) + timedelta(days=n) for n in range(5))
THANKSGIVING_EVE = date(2026, 11, 25)  # Thanksgiving, a US holiday, is Thursday 26 November


@dataclass(frozen=True)
class Team:
    runtime: Runtime
    manager: Rep
    nick: Rep  # New York
    lena: Rep  # Los Angeles


@pytest.fixture
def team(sqlite_runtime: Runtime) -> Team:
    with sqlite_runtime.db.session() as session, session.begin():
        manager = add_rep(session, "maria@example.com", role="manager", name="Maria Boss")
        nick = add_rep(session, "nick@example.com", manager=manager.email, name="Nick Nowak")
        lena = add_rep(session, "lena@example.com", zone="America/Los_Angeles",
                       manager=manager.email, name="Lena Lopez")
        session.expunge_all()
    return Team(sqlite_runtime, manager, nick, lena)


def new_lead(runtime: Runtime, owner: Rep, name: str, at: datetime) -> int:
    """A lead arrives: what log_call and the inbound sync do, at ``at``."""
    with runtime.db.session() as session, session.begin():
        lead = add_lead(session, session.get(Rep, owner.id), name, created_at=at)
        start_following_up(session, lead, team_settings(session), at)
        return lead.id


def next_wake(session: Session, now: datetime) -> datetime:
    """The next quarter hour, or sooner if a reminder is due before it."""
    quarter = datetime.fromtimestamp((now.timestamp() // 900 + 1) * 900, UTC)
    due = session.scalar(select(func.min(Lead.next_reminder_at)).where(Lead.next_reminder_at > now))
    return min(quarter, due) if due else quarter


def run_worker(runtime: Runtime, start: datetime, end: datetime) -> None:
    worker = Worker(runtime, jobs=[Job("nag", 15, nag), Job("mail", 5, deliver_mail)],
                    holder="test-worker")
    with time_machine.travel(start, tick=False) as traveller:
        while clock.now() < end:
            worker.run_once()
            with runtime.db.session() as session:
                traveller.move_to(next_wake(session, clock.now()))


def sent(runtime: Runtime, zone: ZoneInfo = NEW_YORK, lead_id: int | None = None) -> list[str]:
    """What went out, as "kind to at", in the given zone's wall clock."""
    query = select(OutboxMessage).where(OutboxMessage.status == "sent").order_by(
        OutboxMessage.sent_at, OutboxMessage.id)
    if lead_id is not None:
        query = query.where(OutboxMessage.lead_id == lead_id)
    with runtime.db.session() as session:
        return [f"{m.kind} {m.to_email.split('@')[0]}"
                f"{'+' + m.cc[0].split('@')[0] if m.cc else ''} "
                f"{m.sent_at.astimezone(zone):%a %H:%M}" for m in session.scalars(query)]


def follow_up(runtime: Runtime, rep: Rep, lead_id: int, outcome: str, at: datetime) -> None:
    with runtime.db.session() as session, session.begin():
        log_followup(session, Viewer.of(session.get(Rep, rep.id)), lead_id, outcome, at)


def test_a_weekday_lead_is_nagged_until_connected(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Dana Whitfield", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(THU, 10, 0))
    follow_up(team.runtime, team.nick, lead, "connected", local(THU, 10, 0))
    run_worker(team.runtime, local(THU, 10, 0), local(FRI, 17, 0))
    assert sent(team.runtime) == [
        "alert nick Mon 09:00",
        "reminder nick Mon 09:05",
        "reminder nick Mon 09:15",
        "reminder nick+maria Mon 10:00",  # from the 60-minute reminder on, the manager is copied
        "reminder nick+maria Mon 13:00",
        "reminder nick+maria Tue 08:00",  # then once a business day, at opening
        "reminder nick+maria Wed 08:00",
        "escalation maria Wed 09:00",  # two business days without a conversation
        "reminder nick+maria Thu 08:00",
    ]  # and nothing once Connected is logged on Thursday


def test_reminders_outside_business_hours_collapse_into_one_at_the_next_opening(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Late Friday", local(FRI, 17, 50))
    run_worker(team.runtime, local(FRI, 17, 50), local(FRI + timedelta(days=4), 12, 0))
    assert sent(team.runtime) == [
        "alert nick Fri 17:50",  # the alert goes out at any hour
        "reminder nick Fri 17:55",
        # 18:05, 18:50 and 21:50 fall after closing: one reminder on Monday morning
        "reminder nick+maria Mon 08:00",
        "reminder nick+maria Tue 08:00",
    ]
    with team.runtime.db.session() as session:
        assert session.get(Lead, lead).next_reminder_at == local(FRI + timedelta(days=5), 8, 0)


def test_a_worker_down_all_weekend_sends_one_reminder_not_a_burst(team: Team) -> None:
    new_lead(team.runtime, team.nick, "Late Friday", local(FRI, 17, 50))
    run_worker(team.runtime, local(FRI, 17, 50), local(FRI, 18, 0))
    # Nobody runs the worker until Monday 11:00, long after opening.
    run_worker(team.runtime, local(FRI + timedelta(days=3), 11, 0),
               local(FRI + timedelta(days=3), 12, 0))
    assert sent(team.runtime) == ["alert nick Fri 17:50", "reminder nick Fri 17:55",
                                  "reminder nick+maria Mon 11:00"]


def test_a_public_holiday_is_not_a_business_day(team: Team) -> None:
    wednesday = THANKSGIVING_EVE
    new_lead(team.runtime, team.nick, "Before Thanksgiving", local(wednesday, 16, 0))
    run_worker(team.runtime, local(wednesday, 16, 0), local(wednesday + timedelta(days=5), 17, 0))
    assert sent(team.runtime) == [
        "alert nick Wed 16:00",
        "reminder nick Wed 16:05",
        "reminder nick Wed 16:15",
        "reminder nick+maria Wed 17:00",
        # 20:00 is after closing and Thursday is Thanksgiving: Friday at opening
        "reminder nick+maria Fri 08:00",
        "reminder nick+maria Mon 08:00",
        "escalation maria Mon 16:00",  # Friday and Monday are the two business days
    ]


def test_each_owner_is_nagged_in_their_own_time_zone(team: Team) -> None:
    ny_lead = new_lead(team.runtime, team.nick, "East Coast", local(MON, 9, 0))
    la_lead = new_lead(team.runtime, team.lena, "West Coast", local(MON, 9, 0))  # 06:00 in LA
    run_worker(team.runtime, local(MON, 9, 0), local(TUE, 12, 0))
    assert sent(team.runtime, NEW_YORK, ny_lead) == [
        "alert nick Mon 09:00", "reminder nick Mon 09:05", "reminder nick Mon 09:15",
        "reminder nick+maria Mon 10:00", "reminder nick+maria Mon 13:00",
        "reminder nick+maria Tue 08:00"]
    assert sent(team.runtime, LOS_ANGELES, la_lead) == [
        "alert lena Mon 06:00",  # at once, even before Lena's office opens
        # 06:05, 06:15 and 07:00 are before 08:00 Pacific: one reminder at opening
        "reminder lena+maria Mon 08:00",
        "reminder lena+maria Mon 10:00",
        "reminder lena+maria Tue 08:00"]


def test_voicemails_are_attempts_and_the_reminders_say_so(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Hard To Reach", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(MON, 9, 10))
    follow_up(team.runtime, team.nick, lead, "voicemail", local(MON, 9, 10))
    follow_up(team.runtime, team.nick, lead, "no_answer", local(MON, 9, 12))
    run_worker(team.runtime, local(MON, 9, 12), local(MON, 9, 16))
    follow_up(team.runtime, team.nick, lead, "connected", local(MON, 9, 20))
    run_worker(team.runtime, local(MON, 9, 20), local(WED, 12, 0))
    assert sent(team.runtime) == ["alert nick Mon 09:00", "reminder nick Mon 09:05",
                                  "reminder nick Mon 09:15"]  # no escalation either
    with team.runtime.db.session() as session:
        last = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                               .order_by(OutboxMessage.id.desc())).first()
        lead_row = session.get(Lead, lead)
        assert lead_row.status == "connected" and lead_row.first_contact_at == local(MON, 9, 20)
    assert "2 attempts so far" in last.text and "15 minutes" in last.text
    assert f"?lead={lead}" in last.html and 'href="tel:+16175550142"' in last.html


def test_a_reminder_queued_before_the_conversation_is_cancelled(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Just Reached", local(MON, 9, 0))
    with time_machine.travel(local(MON, 9, 5), tick=False):
        assert nag(team.runtime, clock.now()) == 1  # queued, not yet sent
    follow_up(team.runtime, team.nick, lead, "connected", local(MON, 9, 5))
    with time_machine.travel(local(MON, 9, 6), tick=False):
        deliver_mail(team.runtime, clock.now())
    with team.runtime.db.session() as session:
        statuses = dict(session.execute(select(OutboxMessage.kind, OutboxMessage.status)).all())
    assert statuses["reminder"] == "cancelled"


def test_a_manager_reassigns_a_lead_and_the_new_owner_is_nagged(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Handed Over", local(MON, 9, 0))
    run_worker(team.runtime, local(MON, 9, 0), local(MON, 9, 10))
    with team.runtime.db.session() as session, session.begin(), pytest.raises(NotAllowed):
        reassign(session, Viewer.of(session.get(Rep, team.nick.id)), lead, team.lena.id,
                 team_settings(session), local(MON, 9, 10))
    with team.runtime.db.session() as session, session.begin():
        reassign(session, Viewer.of(session.get(Rep, team.manager.id)), lead, team.lena.id,
                 team_settings(session), local(MON, 9, 10))
    run_worker(team.runtime, local(MON, 9, 10), local(MON, 14, 0))
    assert sent(team.runtime) == [
        "alert nick Mon 09:00", "reminder nick Mon 09:05",
        "alert lena Mon 09:10",  # the new owner hears at once, at any hour
        # The schedule still counts from when the lead arrived, in Lena's hours: 09:15 and
        # 10:00 New York are before her 08:00 Pacific opening (11:00 here), then 13:00 (4 h).
        "reminder lena+maria Mon 11:00",
        "reminder lena+maria Mon 13:00"]
    with team.runtime.db.session() as session, pytest.raises(NotAllowed):  # and Nick no longer sees it
        log_followup(session, Viewer.of(session.get(Rep, team.nick.id)), lead, "connected",
                     local(MON, 14, 0))


def test_a_lead_closed_as_duplicate_stops_the_nagging(team: Team) -> None:
    lead = new_lead(team.runtime, team.nick, "Seen Before", local(MON, 9, 0))
    with team.runtime.db.session() as session, session.begin():
        with pytest.raises(NotAllowed):
            close_as_duplicate(session, Viewer.of(session.get(Rep, team.nick.id)), lead,
                               local(MON, 9, 1))
        close_as_duplicate(session, Viewer.of(session.get(Rep, team.manager.id)), lead,
                           local(MON, 9, 1), note="same as lead 12")
    run_worker(team.runtime, local(MON, 9, 1), local(WED, 12, 0))
    # The alert was already decided at 09:00 and still goes out; no reminder follows.
    assert sent(team.runtime) == ["alert nick Mon 09:01"]
    with team.runtime.db.session() as session:
        assert session.get(Lead, lead).status == "duplicate"


def test_an_inbound_row_gets_its_alert_in_the_same_worker_run(runtime: Runtime) -> None:
    """`worker --once` on both databases: sync reads the Inbound tab, mail sends the alerts."""
    with time_machine.travel(local(MON, 9, 0), tick=False):
        report = Worker(runtime).run_once()
    assert report["sync"] == 1 and report["mail"] >= 2
    with runtime.db.session() as session:
        alerts = session.execute(select(Lead.first_name, OutboxMessage.status, OutboxMessage.sent_at)
                                 .join(Lead, Lead.id == OutboxMessage.lead_id)
                                 .where(OutboxMessage.kind == "alert")).all()
    assert sorted((name, status) for name, status, _ in alerts) == [("Dana", "sent"), ("Luis", "sent")]
    assert {at for _, _, at in alerts} == {local(MON, 9, 0)}
