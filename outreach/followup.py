"""The follow-up engine: alert the owner at once, then nag until a conversation is logged.

The schedule, in the owner's own time zone (all values from the Settings tab):

- an alert e-mail the moment the lead exists, at any hour;
- reminders 5, 15, 60 minutes and 4 hours after it arrived, then one each
  business day at opening time, until Connected is logged or the lead is closed;
- reminders only go out in business hours: points that fall outside move to the
  next opening, where they collapse into one reminder, never a burst;
- from the 60-minute reminder on, the owner's manager is copied; after 2 business
  days without a conversation the manager gets a separate escalation.

Like healthchecks' nags, the schedule lives in the database: each lead stores
``next_reminder_at`` and ``reminders_sent``; the worker's step finds due leads,
queues the reminder in the outbox (key ``reminder:<lead>:<n>``) and moves
``next_reminder_at`` on, in one transaction. Voicemails and no-answers are
attempts, not follow-ups: they never stop the nagging.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from outreach.business_hours import WorkCalendar
from outreach.emails import render_email
from outreach.humanize import duration
from outreach.leads import OPEN_STATUSES, lead_url
from outreach.models import Customer, Lead, LeadEvent, Rep
from outreach.outbox import Email, enqueue, enqueue_many
from outreach.phones import display
from outreach.team_settings import TeamSettings

log = logging.getLogger(__name__)


def schedule_points(created: datetime, team: TeamSettings, zone: ZoneInfo,
                    calendar: WorkCalendar) -> Iterator[datetime]:
    """Every moment a reminder is wanted, before business hours are applied (endless)."""
    for offset in team.reminder_offsets:
        yield created + offset
    last = created + team.reminder_offsets[-1]
    day = last.astimezone(zone).date()
    while True:
        day = calendar.next_workday(day)
        opening = calendar.opening(day, zone)
        if opening > last:
            yield opening
        day += timedelta(days=1)


def next_reminder_at(created: datetime, after: datetime, team: TeamSettings, zone: ZoneInfo,
                     calendar: WorkCalendar) -> datetime:
    """The first reminder strictly after ``after``, moved into the owner's business hours."""
    for point in schedule_points(created, team, zone, calendar):
        if point > after:
            return calendar.next_opening(point, zone)
    raise AssertionError("schedule_points never ends")


def escalation_at(created: datetime, team: TeamSettings, zone: ZoneInfo,
                  calendar: WorkCalendar) -> datetime:
    return calendar.add_business_days(created, team.escalation_business_days, zone)


def start_following_up(session: Session, lead: Lead, team: TeamSettings, now: datetime) -> None:
    """A new lead: queue the owner's alert and set the first reminder (same transaction)."""
    owner = session.get(Rep, lead.owner_id)
    assert owner is not None
    zone = ZoneInfo(owner.time_zone)
    lead.next_reminder_at = next_reminder_at(lead.created_at, now, team, zone, WorkCalendar(team))
    session.flush()
    enqueue(session, _alert(session, lead, owner, team, now), now)


def alert_key(lead: Lead) -> str:
    """One alert per assignment: a lead handed back to an earlier owner alerts them again.

    Reads the lead's reassignments through the session the lead belongs to.
    """
    session = object_session(lead)
    assert session is not None, "alert_key needs a lead loaded from a session"
    handovers = session.scalar(select(func.count()).select_from(LeadEvent).where(
        LeadEvent.lead_id == lead.id, LeadEvent.outcome == "reassigned")) or 0
    key = f"alert:{lead.id}:{lead.owner_id}"
    # The first assignment keeps the key alerts had before reassignments were counted.
    return f"{key}:{handovers}" if handovers else key


def stop_following_up(lead: Lead) -> None:
    """A conversation happened (or the lead was closed): no more reminders."""
    lead.next_reminder_at = None


def send_due_reminders(session: Session, now: datetime, team: TeamSettings, limit: int = 500) -> int:
    """The worker's step: queue every reminder whose time has come. Returns how many."""
    query = (select(Lead).where(Lead.next_reminder_at <= now, Lead.status.in_(OPEN_STATUSES))
             .order_by(Lead.next_reminder_at).limit(limit))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    calendar = WorkCalendar(team)
    team_members = _TeamMembers(session)
    reminders = []
    # Nothing read below depends on the leads being changed: one flush at the end, not one a lead.
    with session.no_autoflush:
        for lead in session.scalars(query).all():
            owner = team_members.rep(lead.owner_id)
            lead.reminders_sent += 1
            copy_manager = now - lead.created_at >= team.cc_manager_after
            copied = team_members.manager_of(owner) if copy_manager else None
            reminders.append(_reminder(session, lead, owner, copied, team, now))
            lead.next_reminder_at = next_reminder_at(lead.created_at, now, team, ZoneInfo(owner.time_zone),
                                                     calendar)
    enqueue_many(session, reminders, now)
    return len(reminders)


class _TeamMembers:
    """Reps and their managers, each read once per batch (a batch nags the same few people)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reps: dict[int, Rep] = {}
        self.managers: dict[str, Rep | None] = {}

    def rep(self, rep_id: int) -> Rep:
        if rep_id not in self.reps:
            rep = self.session.get(Rep, rep_id)
            assert rep is not None
            self.reps[rep_id] = rep
        return self.reps[rep_id]

    def manager_of(self, rep: Rep) -> Rep | None:
        if rep.email not in self.managers:
            self.managers[rep.email] = _manager(self.session, rep)
        return self.managers[rep.email]


def send_due_escalations(session: Session, now: datetime, team: TeamSettings) -> int:
    """Ask the manager to step in when a lead has gone days without a conversation."""
    # 2 business days are at least 2 calendar days: a cheap bound for the query.
    horizon = now - timedelta(days=team.escalation_business_days)
    query = select(Lead).where(Lead.status.in_(OPEN_STATUSES), Lead.escalated_at.is_(None),
                               Lead.created_at <= horizon)
    calendar = WorkCalendar(team)
    queued = 0
    for lead in session.scalars(query):
        owner = session.get(Rep, lead.owner_id)
        assert owner is not None
        if now < escalation_at(lead.created_at, team, ZoneInfo(owner.time_zone), calendar):
            continue
        lead.escalated_at = now
        manager = _manager(session, owner)
        if manager is None:
            log.warning("lead %s needs escalating but %s has no manager on the Reps tab",
                        lead.id, owner.email)
            continue
        enqueue(session, _escalation(session, lead, owner, manager, team, now), now)
        queued += 1
    return queued


def _manager(session: Session, owner: Rep) -> Rep | None:
    if not owner.manager_email:
        return None
    return session.scalar(select(Rep).where(Rep.email == owner.manager_email, Rep.active.is_(True)))


def _context(session: Session, lead: Lead, owner: Rep, team: TeamSettings, now: datetime) -> dict:
    referrer = session.get(Customer, lead.referring_customer_id) if lead.referring_customer_id else None
    return {
        "lead": {"id": lead.id, "name": lead.full_name, "kind": lead.kind, "phone": lead.phone,
                 "phone_display": display(lead.phone, team.phone_region), "email": lead.email or "",
                 "need": lead.need, "relationship": lead.relationship, "best_time": lead.best_time,
                 "heard_about": lead.heard_about, "attempts": lead.attempts,
                 "age": duration((now - lead.created_at).total_seconds()),
                 "referrer": referrer.full_name if referrer else "",
                 "url": lead_url(team.app_url, lead.id)},
        "owner": {"name": owner.name, "first_name": owner.name.split()[0]},
        "app_url": team.app_url, "team_name": team.sender_name,
    }


def _alert(session: Session, lead: Lead, owner: Rep, team: TeamSettings, now: datetime) -> Email:
    rendered = render_email("alert", **_context(session, lead, owner, team, now))
    return Email(key=alert_key(lead), kind="alert", to_email=owner.email, to_name=owner.name,
                 subject=rendered.subject, text=rendered.text, html=rendered.html,
                 rep_id=owner.id, lead_id=lead.id)


def _reminder(session: Session, lead: Lead, owner: Rep, manager: Rep | None, team: TeamSettings,
              now: datetime) -> Email:
    context = _context(session, lead, owner, team, now)
    rendered = render_email("reminder", number=lead.reminders_sent,
                            manager_copied=manager is not None, **context)
    return Email(key=f"reminder:{lead.id}:{lead.reminders_sent}", kind="reminder",
                 to_email=owner.email, to_name=owner.name, subject=rendered.subject,
                 text=rendered.text, html=rendered.html,
                 cc=(manager.email,) if manager else (), rep_id=owner.id, lead_id=lead.id)


def _escalation(session: Session, lead: Lead, owner: Rep, manager: Rep, team: TeamSettings,
                now: datetime) -> Email:
    rendered = render_email("escalation", manager={"name": manager.name,
                                                   "first_name": manager.name.split()[0]},
                            **_context(session, lead, owner, team, now))
    return Email(key=f"escalation:{lead.id}", kind="escalation", to_email=manager.email,
                 to_name=manager.name, subject=rendered.subject, text=rendered.text,
                 html=rendered.html, rep_id=manager.id, lead_id=lead.id)
