"""A small team and a moving clock, for the follow-up tests (after healthchecks' alice and bob).

A manager in New York (Maria), a rep in New York (Nick) and one in Los Angeles (Lena).
Leads arrive at known moments; :func:`run_worker` lets the real worker jobs (nag +
mail, through the embedded outbox) run while time-machine moves the clock. The
worker wakes at every quarter hour and at every reminder the database says is due,
so each e-mail's ``sent_at`` is the moment the schedule asked for; :func:`sent`
reads them back as the wall clock of a zone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from outreach import clock
from outreach.access import Viewer
from outreach.db import Database, migrate
from outreach.leads.followup import start_following_up
from outreach.leads.leads import log_followup
from outreach.models import Lead, NagItem, OutboxMessage, Rep
from outreach.runtime import Runtime, team_settings
from outreach.worker import Job, Worker, deliver_mail, nag
from tests.conftest import make_settings
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
def team(request: pytest.FixtureRequest, tmp_path: Path, workbook: Path) -> Iterator[Team]:
    """On SQLite, or on PostgreSQL for the tests marked ``ON_BOTH_DATABASES``."""
    url = (request.getfixturevalue("postgres_url") if getattr(request, "param", "sqlite") == "postgresql"
           else f"sqlite:///{tmp_path / 'team.db'}")
    db = Database(url)
    migrate(db)
    runtime = Runtime(settings=make_settings(tmp_path, OUTREACH_WORKBOOK=str(workbook)), db=db)
    with runtime.db.session() as session, session.begin():
        manager = add_rep(session, "maria@example.com", role="manager", name="Maria Boss")
        nick = add_rep(session, "nick@example.com", manager=manager.email, name="Nick Nowak")
        lena = add_rep(session, "lena@example.com", zone="America/Los_Angeles",
                       manager=manager.email, name="Lena Lopez")
        session.expunge_all()
    yield Team(runtime, manager, nick, lena)
    db.dispose()


# The whole schedule on PostgreSQL as well costs about 4x SQLite's time: the main story and
# the daylight-saving cases run on both, the rest on SQLite.
ON_BOTH_DATABASES = pytest.mark.parametrize("team", ["sqlite", "postgresql"], indirect=True)


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
    if lead_id is not None:  # its alerts, and every reminder or escalation that listed it
        query = query.where(or_(OutboxMessage.lead_id == lead_id, OutboxMessage.key.in_(
            select(NagItem.outbox_key).where(NagItem.lead_id == lead_id))))
    with runtime.db.session() as session:
        return [f"{m.kind} {m.to_email.split('@')[0]}"
                f"{'+' + m.cc[0].split('@')[0] if m.cc else ''} "
                f"{m.sent_at.astimezone(zone):%a %H:%M}" for m in session.scalars(query)]


def follow_up(runtime: Runtime, rep: Rep, lead_id: int, outcome: str, at: datetime) -> None:
    with runtime.db.session() as session, session.begin():
        log_followup(session, Viewer.of(session.get(Rep, rep.id)), lead_id, outcome, at)


def inbox(runtime: Runtime, zone: ZoneInfo = NEW_YORK, since: datetime | None = None) -> list[str]:
    """What went out, as "kind to+cc at: leads", the leads in the e-mail's own order."""
    query = select(OutboxMessage).where(OutboxMessage.status == "sent").order_by(
        OutboxMessage.sent_at, OutboxMessage.id)
    if since is not None:
        query = query.where(OutboxMessage.sent_at >= since)
    with runtime.db.session() as session:
        lines = []
        for message in session.scalars(query):
            names = session.scalars(select(Lead.first_name).join(NagItem, NagItem.lead_id == Lead.id)
                                    .where(NagItem.outbox_key == message.key).order_by(NagItem.id))
            cc = "".join(f"+{address.split('@')[0]}" for address in message.cc)
            lines.append(f"{message.kind} {message.to_email.split('@')[0]}{cc} "
                         f"{message.sent_at.astimezone(zone):%a %H:%M}: {', '.join(names)}")
        return lines


def last_email(runtime: Runtime, kind: str) -> OutboxMessage:
    with runtime.db.session() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                  .order_by(OutboxMessage.id.desc())).first()
        assert message is not None, f"no {kind} e-mail"
        return message
