"""Leads: creating them and deciding who owns them.

The one place that decides ownership:

- a referral belongs to the rep who took it on the call;
- a concern belongs to the customer's owner (else the rep who heard it);
- an inbound lead belongs to the row's Owner, else goes round-robin over the
  active reps who are inside business hours right now, else over all active reps.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer, lead_for, leads_visible_to
from outreach.business_hours import WorkCalendar
from outreach.errors import OutreachError
from outreach.followup import start_following_up, stop_following_up
from outreach.models import CLOSED_STATUSES, OPEN_STATUSES, Lead, LeadEvent, Rep
from outreach.team_settings import TeamSettings


def overdue_cutoff(now: datetime, team: TeamSettings) -> datetime:
    """Leads that arrived at or before this are overdue if still open: the first reminder has passed."""
    return now - team.reminder_offsets[0]


def is_overdue(lead: Lead, now: datetime, team: TeamSettings) -> bool:
    return lead.is_open and lead.created_at <= overdue_cutoff(now, team)


def open_leads(session: Session, owner_id: int) -> list[Lead]:
    return list(session.scalars(
        select(Lead).where(Lead.owner_id == owner_id, Lead.status.in_(OPEN_STATUSES))
        .order_by(Lead.created_at)))


def active_reps(session: Session) -> list[Rep]:
    return list(session.scalars(select(Rep).where(Rep.active.is_(True)).order_by(Rep.id)))


class InboundRoundRobin:
    """Hands inbound leads out in turn: the rep whose last inbound lead is oldest goes next."""

    def __init__(self, session: Session, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        reps = active_reps(session)
        callers = [r for r in reps if r.role == "rep"]
        self.reps = callers or reps
        last = session.execute(
            select(Lead.owner_id, func.max(Lead.created_at))
            .where(Lead.kind == "inbound").group_by(Lead.owner_id)
        ).all()
        self.last_assigned: dict[int, datetime] = {owner: at for owner, at in last}

    def next_owner(self, now: datetime) -> Rep | None:
        if not self.reps:
            return None
        open_now = [r for r in self.reps if self.calendar.is_open(now, ZoneInfo(r.time_zone))]
        pool: Sequence[Rep] = open_now or self.reps
        never = datetime.min.replace(tzinfo=now.tzinfo)
        owner = min(pool, key=lambda r: (self.last_assigned.get(r.id, never), r.id))
        self.last_assigned[owner.id] = now
        return owner


def concern_owner(session: Session, customer_owner_email: str | None, heard_by: Rep) -> Rep:
    if customer_owner_email:
        owner = session.scalar(
            select(Rep).where(Rep.email == customer_owner_email, Rep.active.is_(True))
        )
        if owner is not None:
            return owner
    return heard_by


FOLLOW_UP_OUTCOMES = {"connected": "Connected", "voicemail": "Left voicemail",
                      "no_answer": "No answer", "wrong_number": "Wrong number"}
NEXT_STEPS = {"": "Just talked", "appointment": "Appointment", "won": "Won", "lost": "Lost",
              "not_a_fit": "Not a fit"}


def log_followup(session: Session, viewer: Viewer, lead_id: int, outcome: str, now: datetime, *,
                 next_step: str = "", note: str = "", client_token: str | None = None) -> Lead:
    """Record a follow-up. Only Connected is a follow-up; the rest are attempts and the nagging goes on."""
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise OutreachError("choose what happened")
    if next_step not in NEXT_STEPS or (next_step and outcome != "connected"):
        raise OutreachError("a next step comes after a conversation: choose Connected")
    if client_token and session.scalar(select(LeadEvent.id).where(LeadEvent.client_token == client_token)):
        return lead_for(session, viewer, lead_id)  # the same form, submitted twice
    lead = lead_for(session, viewer, lead_id, for_update=True)
    if lead.status == "duplicate":
        raise OutreachError("this lead was closed as a duplicate")
    if outcome == "connected":
        lead.first_contact_at = lead.first_contact_at or now
        lead.status = next_step or ("connected" if lead.status in OPEN_STATUSES else lead.status)
        lead.closed_at = now if lead.status in CLOSED_STATUSES else None
        stop_following_up(lead)
    else:
        lead.attempts += 1
        lead.last_attempt_at = now
        if lead.status == "new":
            lead.status = "attempted"
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome=outcome, next_step=next_step,
                          note=note.strip(), created_at=now, client_token=client_token))
    return lead


def urgency(lead: Lead, now: datetime) -> tuple[int, datetime, datetime, int]:
    """Sort key: concerns and overdue leads first, then the next reminder soonest, then the oldest.

    At night every reminder waits for the same opening, so the age decides: without it the list came
    in whatever order the database returned.
    """
    waiting = lead.next_reminder_at or now
    return (0 if lead.kind == "concern" else 1, waiting, lead.created_at, lead.id)


def leads_to_follow_up(session: Session, viewer: Viewer, now: datetime,
                       owner_id: int | None = None) -> list[Lead]:
    """Open leads and concerns the viewer may see (a rep: only their own), most urgent first."""
    query = leads_visible_to(viewer, select(Lead).where(Lead.status.in_(OPEN_STATUSES)))
    if owner_id is not None:
        query = query.where(Lead.owner_id == owner_id)
    return sorted(session.scalars(query), key=lambda lead: urgency(lead, now))


def lead_history(session: Session, viewer: Viewer, lead_id: int) -> list[LeadEvent]:
    lead_for(session, viewer, lead_id)
    return list(session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead_id)
                                .order_by(LeadEvent.created_at)))


def lead_histories(session: Session, leads: list[Lead]) -> dict[int, list[LeadEvent]]:
    """The events of leads the caller already got through an access check, in one query."""
    histories: dict[int, list[LeadEvent]] = {lead.id: [] for lead in leads}
    events = session.scalars(select(LeadEvent).where(LeadEvent.lead_id.in_(list(histories)))
                             .order_by(LeadEvent.created_at))
    for event in events:
        histories[event.lead_id].append(event)
    return histories


def reassign(session: Session, viewer: Viewer, lead_id: int, new_owner_id: int, team: TeamSettings,
             now: datetime) -> Lead:
    """A manager hands a lead to someone else: the new owner is alerted and nagged from now on."""
    if not viewer.is_manager:
        raise NotAllowed("only a manager can reassign a lead")
    lead = lead_for(session, viewer, lead_id, for_update=True)
    owner = session.get(Rep, new_owner_id)
    if owner is None or not owner.active:
        raise OutreachError("the new owner is not an active member of the team")
    if lead.owner_id == owner.id:
        return lead
    lead.owner_id = owner.id
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome="reassigned",
                          note=f"to {owner.name}", created_at=now))
    if lead.is_open:
        start_following_up(session, lead, team, now)
    return lead


def close_as_duplicate(session: Session, viewer: Viewer, lead_id: int, now: datetime, note: str = "") -> Lead:
    if not viewer.is_manager:
        raise NotAllowed("only a manager can close a lead as a duplicate")
    lead = lead_for(session, viewer, lead_id, for_update=True)
    lead.status, lead.closed_at = "duplicate", now
    stop_following_up(lead)
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome="closed",
                          next_step="duplicate", note=note.strip(), created_at=now))
    return lead
