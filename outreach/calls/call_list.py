"""The morning call-list e-mail: today's customers, the script, the rep's open leads, and
the appointments whose time passed with nothing logged (what happened at them?).

Sent once per rep per working day at the Call List Time of the rep's own zone.
The outbox key ``call-list:<rep>:<date>`` makes "once" hold across restarts and
several workers. A worker that was down at 07:30 sends it when it comes back,
until noon (or two hours after a Call List Time later than 10:00); after that the
day's list is recorded as skipped (and logged), because a call list arriving at
3 pm does more harm than good.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.access import Viewer
from outreach.business_hours import WorkCalendar
from outreach.calls.planner import todays_plan
from outreach.calls.script import Person, render_script
from outreach.humanize import duration
from outreach.job_problems import note
from outreach.leads.lead_life import appointments_due
from outreach.leads.leads import is_overdue, open_leads
from outreach.leads.thanks import open_thank_yous
from outreach.links import lead_page_url, lead_url
from outreach.mail.emails import render_email
from outreach.mail.outbox import Email, enqueue
from outreach.models import Customer, OutboxMessage, Rep
from outreach.phones import display
from outreach.team_settings import TeamSettings

log = logging.getLogger(__name__)

TOO_LATE = time(12, 0)  # a list that arrives after lunch does more harm than good
CATCH_UP = timedelta(hours=2)  # ... unless the team's list time itself is late in the day


def call_list_key(rep_id: int, day: date) -> str:
    return f"call-list:{rep_id}:{day.isoformat()}"


def _customer_item(customer: Customer, team: TeamSettings, zone: ZoneInfo) -> dict[str, object]:
    return {
        "name": customer.full_name, "company": customer.company, "phone": customer.phone,
        "phone_display": display(customer.phone, team.phone_region),
        "customer_since": customer.customer_since.strftime("%b %Y") if customer.customer_since else "",
        "last_ask": (customer.last_asked_at.astimezone(zone).strftime("%d %b %Y")
                     if customer.last_asked_at else ""),
        "notes": customer.notes, "extra": sorted(customer.extra.items()),
    }


def _lead_items(session: Session, rep: Rep, team: TeamSettings, now: datetime) -> list[dict[str, object]]:
    leads = sorted(open_leads(session, rep.id),
                   key=lambda lead: (not is_overdue(lead, now, team), lead.created_at))
    return [{
        "name": lead.full_name, "overdue": is_overdue(lead, now, team),
        "age": duration((now - lead.created_at).total_seconds()),
        "attempts_label": (f"{lead.attempts} attempt{'s' if lead.attempts != 1 else ''}, no conversation"
                           if lead.attempts else "not called yet"),
        "phone": lead.phone, "phone_display": display(lead.phone, team.phone_region),
        "email": lead.email or "", "url": lead_url(team.app_url, lead.id),
    } for lead in leads]


def _appointment_items(session: Session, rep: Rep, team: TeamSettings,
                       now: datetime) -> list[dict[str, object]]:
    """Passed appointments, in the rep's own zone: a reminder to log what came of them, not a nag."""
    zone = ZoneInfo(rep.time_zone)
    return [{
        "name": lead.full_name,
        "when": lead.appointment_at.astimezone(zone).strftime("%a %d %b %H:%M") if lead.appointment_at
                else "",
        "phone": lead.phone, "phone_display": display(lead.phone, team.phone_region),
        "email": lead.email or "", "url": lead_page_url(team.app_url, lead.id),
    } for lead in appointments_due(session, Viewer.of(rep), now, owner_id=rep.id)]


def compose_call_list(session: Session, rep: Rep, day: date, team: TeamSettings,
                      now: datetime) -> Email | None:
    plan = todays_plan(session, rep, day)
    open_items = [customer for planned, customer in plan if planned.status == "open"]
    if not open_items:
        return None
    leads = _lead_items(session, rep, team, now)
    script = render_script(team.referral_script, Person("[name]", "[customer]"),
                           Person(rep.first_name, rep.name))
    rendered = render_email(
        "call_list", rep={"first_name": rep.first_name, "name": rep.name},
        day_label=day.strftime("%A %d %B").replace(" 0", " "),
        items=[_customer_item(c, team, ZoneInfo(rep.time_zone)) for c in open_items], script=script,
        leads=leads, appointments=_appointment_items(session, rep, team, now),
        thanks=[{"text": item.text, "phone": item.phone,
                 "phone_display": display(item.phone, team.phone_region)}
                for item in open_thank_yous(session, Viewer.of(rep), rep.id)],
        overdue_count=sum(1 for lead in leads if lead["overdue"]), app_url=team.app_url,
        team_name=team.sender_name,
    )
    return Email(key=call_list_key(rep.id, day), kind="call-list", to_email=rep.email,
                 to_name=rep.name, subject=rendered.subject, text=rendered.text,
                 html=rendered.html, rep_id=rep.id)


def send_deadline(team: TeamSettings) -> time:
    """Local time after which a late list is skipped: noon, or two hours after a later list time."""
    late = datetime.combine(date.min, team.call_list_time) + CATCH_UP
    return max(TOO_LATE, late.time()) if late.date() == date.min else time.max


def enqueue_due_call_lists(session: Session, now: datetime, team: TeamSettings) -> int:
    """Queue every call list whose time has come; record the ones it is too late for."""
    calendar = WorkCalendar(team)
    due = []
    for rep in session.scalars(select(Rep).where(Rep.active.is_(True), Rep.daily_calls > 0)):
        zone = ZoneInfo(rep.time_zone)
        day = now.astimezone(zone).date()
        if calendar.is_workday(day) and now >= calendar.at_local(day, team.call_list_time, zone):
            due.append((rep, day, zone))
    # One query for the whole team: at 10,000 reps a lookup per rep every tick adds up.
    handled = _existing_keys(session, [call_list_key(rep.id, day) for rep, day, _ in due])
    deadline = send_deadline(team)
    queued = 0
    for rep, day, zone in due:
        if call_list_key(rep.id, day) in handled:
            continue
        try:
            email = compose_call_list(session, rep, day, team, now)
        except Exception as exc:  # the other reps' lists still go; this one is named and retried
            note(session, "plans", f"the call list to {rep.email}", exc, now)
            continue
        if email is None:
            continue  # no list yet, or nothing left open on it: nothing to send or to miss
        if now >= calendar.at_local(day, deadline, zone):
            _record_skipped(session, rep, day, now, deadline)
        elif enqueue(session, email, now):
            queued += 1
    return queued


def _existing_keys(session: Session, keys: list[str], chunk: int = 5000) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), chunk):
        found.update(session.scalars(select(OutboxMessage.key)
                                     .where(OutboxMessage.key.in_(keys[start:start + chunk]))))
    return found


def _record_skipped(session: Session, rep: Rep, day: date, now: datetime, deadline: time) -> None:
    reason = (f"not sent: the call list for {day.isoformat()} was due at the call-list time but "
              f"the worker was not running before {deadline:%H:%M}")
    skipped = Email(key=call_list_key(rep.id, day), kind="call-list", to_email=rep.email,
                    to_name=rep.name, subject=f"(skipped) call list for {day.isoformat()}",
                    text=reason, html="", rep_id=rep.id)
    if enqueue(session, skipped, now):
        session.execute(OutboxMessage.__table__.update()
                        .where(OutboxMessage.key == skipped.key)
                        .values(status="skipped", last_error=reason))
        log.warning("call list for %s on %s skipped: the worker was down until after %s",
                    rep.email, day.isoformat(), f"{deadline:%H:%M}")
