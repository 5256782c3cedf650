"""A lead's whole life after the first call: finding it again, its history, and its outcome.

A lead leaves Today once a conversation is logged, but it is not finished: an
appointment is held (or missed), a deal is won or lost. Here a rep finds any of
their leads (a manager anyone's), reads everything that happened to it, and logs
the next step at any time. Access is checked here, never only by the pages.

A passed appointment with nothing logged since is "due": it comes back to the
owner's attention (Today, the morning e-mail) without restarting the reminders,
which are for reaching a new lead fast, not for chasing an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import Session, aliased

from outreach.access import Viewer, lead_for, leads_visible_to
from outreach.errors import OutreachError
from outreach.leads.followup import stop_following_up
from outreach.leads.front_desk import CALLED_AGAIN, INTAKE
from outreach.leads.leads import FOLLOW_UP_OUTCOMES, KEPT, NEXT_STEPS, REOPENED, UNDONE
from outreach.leads.thanks import note_milestone
from outreach.models import CLOSED_STATUSES, Customer, Lead, LeadEvent, NagItem, OutboxMessage, Rep

# The Leads page's filters. "Open" is everything without an outcome yet, Connected included:
# a lead someone talked to but did not book is exactly what gets forgotten.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "open": ("new", "attempted", "connected"),
    "appointment": ("appointment",),
    "won": ("won",),
    "lost": ("lost",),
    "not_a_fit": ("not_a_fit",),
    "duplicate": ("duplicate",),
}
FILTER_LABELS = {"open": "Open", "appointment": "Appointment", "won": "Won", "lost": "Lost",
                 "not_a_fit": "Not a fit", "duplicate": "Duplicate"}
LATER_STEPS = {"appointment": "Appointment", "won": "Won", "lost": "Lost", "not_a_fit": "Not a fit"}
NEXT_STEP_OUTCOME = "next_step"  # a LeadEvent outcome: an outcome logged without a call
SEARCH_LIMIT = 200  # a page of results; a narrower search finds the rest
LOST_REASON_MAX = 300  # Lead.lost_reason's column length
# An appointment "now" typed a few minutes late is fine; one in the past is a slip of the date picker.
APPOINTMENT_GRACE = timedelta(minutes=30)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_condition(text: str) -> ColumnElement[bool]:
    """Name, e-mail or phone contains the text; a phone matches on its digits, however typed."""
    words = text.strip().lower()
    pattern = _like(words)
    name = (Lead.first_name + " " + Lead.last_name)
    conditions = [column.ilike(pattern, escape="\\")
                  for column in (name, Lead.email, Lead.phone_as_typed, Lead.email_as_typed)]
    digits = "".join(c for c in words if c.isascii() and c.isdigit())
    if len(digits) >= 3:  # "555" finds a phone; "5" would find nearly everyone
        conditions.append(Lead.phone.like(_like(digits), escape="\\"))
    return or_(*conditions)


def search_leads(session: Session, viewer: Viewer, filters: list[str], text: str = "",
                 owner_id: int | None = None, limit: int = SEARCH_LIMIT) -> list[Lead]:
    """The viewer's leads (a manager: everyone's) in these status filters, newest first."""
    unknown = [f for f in filters if f not in STATUS_FILTERS]
    if unknown:
        raise OutreachError(f"unknown status filter: {unknown[0]}")
    statuses = [s for f in filters for s in STATUS_FILTERS[f]]
    query = leads_visible_to(viewer, select(Lead).where(Lead.status.in_(statuses)))
    if owner_id is not None:
        query = query.where(Lead.owner_id == owner_id)
    if text.strip():
        query = query.where(_search_condition(text))
    return list(session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit)))


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a lead's life, as shown: when, who, what, and the note as typed."""

    at: datetime
    who: str
    what: str
    note: str
    appointment_at: datetime | None = None  # shown in the reader's zone


@dataclass(frozen=True)
class LeadLife:
    lead: Lead
    owner_name: str
    referrer: str
    history: list[HistoryEntry]  # oldest first


DUPLICATE_EVENTS = {KEPT: "Kept: lead {} was closed as its duplicate",
                    UNDONE: "Lead {} is no longer its duplicate",
                    REOPENED: "Reopened: not a duplicate of lead {}"}


FRONT_DESK_EVENTS = {INTAKE: "Taken in at the front desk",
                     CALLED_AGAIN: "Called again (the front desk took it)"}


def event_text(event: LeadEvent, from_rep: str | None) -> str:
    """One history line in words: the Leads page's, and Today's panel's (which passes no names)."""
    if event.outcome in FRONT_DESK_EVENTS:
        return FRONT_DESK_EVENTS[event.outcome]
    if event.outcome == "reassigned":
        return f"Reassigned from {from_rep}" if from_rep else "Reassigned"
    if event.outcome == NEXT_STEP_OUTCOME:
        return f"Next step: {NEXT_STEPS.get(event.next_step, event.next_step)}"
    if event.outcome == "closed" and event.related_lead_id:
        return f"Closed as a duplicate of lead {event.related_lead_id}"
    if event.outcome == "closed":
        return f"Closed: {event.next_step.replace('_', ' ')}" if event.next_step else "Closed"
    if event.outcome in DUPLICATE_EVENTS:
        return DUPLICATE_EVENTS[event.outcome].format(event.related_lead_id)
    what = FOLLOW_UP_OUTCOMES.get(event.outcome, event.outcome)
    return f"{what} → {NEXT_STEPS[event.next_step]}" if event.next_step in LATER_STEPS else what


def _event_entries(session: Session, lead_id: int) -> list[HistoryEntry]:
    by, before = aliased(Rep), aliased(Rep)
    rows = session.execute(
        select(LeadEvent, by.name, before.name)
        .outerjoin(by, by.id == LeadEvent.rep_id)
        .outerjoin(before, before.id == LeadEvent.from_rep_id)
        .where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.created_at, LeadEvent.id))
    entries = []
    for event, who, from_rep in rows:
        entries.append(HistoryEntry(event.created_at, who or "", event_text(event, from_rep), event.note,
                                    event.appointment_at))
    return entries


def _nag_entries(session: Session, lead_id: int) -> list[HistoryEntry]:
    """Reminders and escalations that named this lead: who they went to, and whether they left."""
    rows = session.execute(
        select(NagItem, OutboxMessage.to_email, OutboxMessage.status, OutboxMessage.sent_at,
               OutboxMessage.cc)
        .join(OutboxMessage, OutboxMessage.key == NagItem.outbox_key)
        .where(NagItem.lead_id == lead_id).order_by(NagItem.created_at, NagItem.id))
    entries = []
    for item, to, status, sent_at, cc in rows:
        what = (f"Reminder {item.number}" if item.kind == "reminder" and item.number else
                "Escalation to the manager" if item.kind == "escalation" else item.kind.title())
        copied = f", cc {', '.join(cc)}" if item.manager_copied and cc else ""
        state = "sent" if status == "sent" else status
        entries.append(HistoryEntry(sent_at or item.created_at, "Outreach",
                                    f"{what} e-mailed ({state})", f"to {to}{copied}"))
    return entries


def _alert_entries(session: Session, lead_id: int) -> list[HistoryEntry]:
    """The alerts: the new lead's first, then one handover per owner it was given to (not nag items,
    so found by the lead's id)."""
    rows = session.execute(
        select(OutboxMessage.created_at, OutboxMessage.sent_at, OutboxMessage.status, OutboxMessage.to_email)
        .where(OutboxMessage.lead_id == lead_id, OutboxMessage.kind == "alert")
        .order_by(OutboxMessage.created_at, OutboxMessage.id))
    return [HistoryEntry(sent_at or created, "Outreach",
                         f"{'New-lead alert' if n == 0 else 'Handover'} e-mailed ({status})", f"to {to}")
            for n, (created, sent_at, status, to) in enumerate(rows)]


def lead_life(session: Session, viewer: Viewer, lead_id: int) -> LeadLife:
    """Everything about one lead the viewer may see; NotAllowed for anyone else's."""
    lead = lead_for(session, viewer, lead_id)
    owner = session.get(Rep, lead.owner_id)
    referrer = session.get(Customer, lead.referring_customer_id) if lead.referring_customer_id else None
    # At the same moment, what a person did comes before the e-mail it caused (a reassignment, then
    # the handover); sorted() keeps each list's own order.
    history = sorted(_event_entries(session, lead.id) + _alert_entries(session, lead.id)
                     + _nag_entries(session, lead.id), key=lambda e: e.at)
    return LeadLife(lead, owner.name if owner else "", referrer.full_name if referrer else "", history)


def log_next_step(session: Session, viewer: Viewer, lead_id: int, step: str, now: datetime, *,
                  appointment_at: datetime | None = None, lost_reason: str = "", note: str = "",
                  client_token: str | None = None) -> Lead:
    """The lead's outcome, at any time: an appointment (with its time), won, lost (why), not a fit.

    The owner or a manager may log it; the same form submitted twice is logged once. Any outcome
    ends the reminders, as a closed lead needs no chasing.
    """
    if step not in LATER_STEPS:
        raise OutreachError("choose the next step")
    reason = lost_reason.strip()
    if step == "appointment" and appointment_at is None:
        raise OutreachError("an appointment needs a date and time")
    if appointment_at is not None and appointment_at.tzinfo is None:
        raise OutreachError("the appointment time has no time zone")
    if step == "appointment" and appointment_at is not None and appointment_at < now - APPOINTMENT_GRACE:
        raise OutreachError("that time has passed: choose when the appointment will be "
                            "(or log what came of it: won, lost or not a fit)")
    if step == "lost" and not reason:
        raise OutreachError("say why it was lost")
    if len(reason) > LOST_REASON_MAX:
        raise OutreachError(f"keep the reason under {LOST_REASON_MAX} characters")
    if client_token and session.scalar(select(LeadEvent.id).where(LeadEvent.client_token == client_token)):
        return lead_for(session, viewer, lead_id)  # the same form, submitted twice
    lead = lead_for(session, viewer, lead_id, for_update=True)
    if lead.status == "duplicate":
        raise OutreachError("this lead was closed as a duplicate")
    if _already(lead, step, appointment_at, reason):
        return lead  # a second click that arrived after the form was reset: nothing new to say
    lead.status = step
    lead.closed_at = now if step in CLOSED_STATUSES else None
    lead.appointment_at = appointment_at if step == "appointment" else lead.appointment_at
    lead.lost_reason = reason if step == "lost" else ""
    stop_following_up(lead)
    event_note = " · ".join(filter(None, [reason if step == "lost" else "", note.strip()]))
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome=NEXT_STEP_OUTCOME,
                          next_step=step, note=event_note,
                          appointment_at=appointment_at if step == "appointment" else None,
                          created_at=now, client_token=client_token))
    note_milestone(session, lead, now)
    return lead


def _already(lead: Lead, step: str, appointment_at: datetime | None, reason: str) -> bool:
    if lead.status != step:
        return False
    if step == "appointment":
        return lead.appointment_at == appointment_at
    return step != "lost" or lead.lost_reason == reason


def appointments_due(session: Session, viewer: Viewer, now: datetime,
                     owner_id: int | None = None) -> list[Lead]:
    """Appointments whose time has passed with nothing logged since, soonest first.

    Anything logged after the appointment's time (a call, a new date, won, lost) answers it.
    """
    logged_since = exists().where(LeadEvent.lead_id == Lead.id,
                                  LeadEvent.created_at >= Lead.appointment_at)
    query = leads_visible_to(viewer, select(Lead).where(
        Lead.status == "appointment", Lead.appointment_at.is_not(None), Lead.appointment_at <= now,
        ~logged_since))
    if owner_id is not None:
        query = query.where(Lead.owner_id == owner_id)
    return list(session.scalars(query.order_by(Lead.appointment_at, Lead.id)))
