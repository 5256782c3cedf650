"""The follow-up schedule: alert the owner at once, then nag until a conversation is logged.

The schedule, in the owner's own time zone (all values from the Settings tab):

- an alert e-mail the moment the lead exists, at any hour;
- reminders 5, 15, 60 minutes and 4 hours after it arrived, then one each
  business day at opening time, until Connected is logged or the lead is closed;
- reminders only go out in business hours: points that fall outside move to the
  next opening, where they collapse into one reminder, never a burst;
- from the 60-minute reminder on, the owner's manager is copied; after 2 business
  days without a conversation the manager is asked to reassign it.

Like healthchecks' nags, the schedule lives in the database: each lead stores
``next_reminder_at`` and ``reminders_sent``. This module decides those times;
:mod:`outreach.leads.nagging` is the worker's step that sends what is due, one e-mail
per person. Voicemails and no-answers are attempts, not follow-ups: they never
stop the nagging.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from outreach.business_hours import WorkCalendar
from outreach.leads.lead_emails import alert_email, handover_email, lead_facts, left_you_email
from outreach.mail.outbox import enqueue
from outreach.models import Lead, LeadEvent, Rep
from outreach.team_settings import TeamSettings


def schedule_points(created: datetime, team: TeamSettings, zone: ZoneInfo,
                    calendar: WorkCalendar, kind: str = "referral") -> Iterator[datetime]:
    """Every moment a reminder is wanted, before business hours are applied (endless).

    A concern has a tighter start (``Concern Reminder Schedule``); every kind ends with the daily ones.
    """
    offsets = team.offsets_for(kind)
    for offset in offsets:
        yield created + offset
    last = created + offsets[-1]
    day = last.astimezone(zone).date()
    while True:
        day = calendar.next_workday(day)
        opening = calendar.opening(day, zone)
        if opening > last:
            yield opening
        day += timedelta(days=1)


def next_reminder_at(created: datetime, after: datetime, team: TeamSettings, zone: ZoneInfo,
                     calendar: WorkCalendar, kind: str = "referral") -> datetime:
    """The first reminder strictly after ``after``, moved into the owner's business hours."""
    for point in schedule_points(created, team, zone, calendar, kind):
        if point > after:
            return calendar.next_opening(point, zone)
    raise AssertionError("schedule_points never ends")


def escalation_at(created: datetime, team: TeamSettings, zone: ZoneInfo,
                  calendar: WorkCalendar) -> datetime:
    return calendar.add_business_days(created, team.escalation_business_days, zone)


def start_following_up(session: Session, lead: Lead, team: TeamSettings, now: datetime, *,
                       cc: tuple[str, ...] = (), taken_by: str = "") -> None:
    """A new lead: queue the owner's alert and set the first reminder (same transaction).

    ``cc`` copies the alert (a concern the front desk took goes to the manager too); ``taken_by`` names
    the front-desk person who answered.
    """
    owner = session.get(Rep, lead.owner_id)
    assert owner is not None
    lead.next_reminder_at = _first_reminder(lead, owner, team, now)
    session.flush()
    enqueue(session, alert_email(lead, owner, lead_facts(session, [lead]), team, now, alert_key(lead),
                                 cc=cc, taken_by=taken_by), now)


def _first_reminder(lead: Lead, owner: Rep, team: TeamSettings, after: datetime) -> datetime:
    return next_reminder_at(lead.created_at, after, team, ZoneInfo(owner.time_zone), WorkCalendar(team),
                            lead.kind)


def hand_over(session: Session, lead: Lead, previous: Rep, manager: Rep, team: TeamSettings,
              now: datetime) -> None:
    """A reassigned lead: the new owner's handover alert, the old owner's note, the new schedule.

    Call after the reassignment's event is flushed: both keys count it, so each handover mails once.
    """
    owner = session.get(Rep, lead.owner_id)
    assert owner is not None
    if lead.is_open:
        lead.next_reminder_at = _first_reminder(lead, owner, team, now)
        session.flush()
        enqueue(session, handover_email(lead, owner, previous, manager, lead_facts(session, [lead]), team,
                                        now, alert_key(lead)), now)
    if previous.active and previous.id != manager.id:  # the manager who moved it already knows
        enqueue(session, left_you_email(lead, owner, previous, manager, team, now,
                                        handover_keys(lead)[1]), now)


def resume_following_up(session: Session, lead: Lead, team: TeamSettings, now: datetime) -> None:
    """A lead closed by mistake is open again: the next reminder of its schedule, no new alert."""
    owner = session.get(Rep, lead.owner_id)
    assert owner is not None
    lead.next_reminder_at = _first_reminder(lead, owner, team, now)


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


def handover_keys(lead: Lead) -> tuple[str, str]:
    """The outbox keys of a handover's two e-mails: the new owner's alert, the previous owner's note."""
    key = alert_key(lead)
    return key, f"left-you:{key}"


def stop_following_up(lead: Lead) -> None:
    """A conversation happened (or the lead was closed): no more reminders."""
    lead.next_reminder_at = None
