"""The front desk's day: the callers it took in today, and handing one nobody called back to the next rep.

The desk sees the state of its own callers (never the leads' histories), and may hand an inbound
caller nobody has talked to after ``Front Desk Handover`` to the next rep in turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer
from outreach.business_hours import WorkCalendar
from outreach.calls.calls import FormErrors
from outreach.leads.followup import hand_over
from outreach.leads.front_desk import CALLED_AGAIN, INTAKE, require_desk, tries
from outreach.leads.leads import InboundRoundRobin
from outreach.models import Lead, LeadEvent, Rep
from outreach.team_settings import TeamSettings


@dataclass(frozen=True)
class IntakeRow:
    """One caller the desk took in today, as the desk may see it."""

    lead_id: int
    at: datetime
    name: str
    what: str  # "New lead", "Concern", "Called again"
    owner: str
    state: str  # "waiting 12 min", "reached", "2 attempts, waiting 40 min", "handed on, waiting 20 min"
    may_hand_over: bool


def todays_intakes(session: Session, viewer: Viewer, now: datetime, team: TeamSettings) -> list[IntakeRow]:
    """The callers this desk took in since midnight in its own zone (a manager: everyone's), newest first."""
    require_desk(viewer)
    zone = ZoneInfo(viewer.time_zone)
    midnight = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    query = (select(LeadEvent, Lead, Rep.name).join(Lead, Lead.id == LeadEvent.lead_id)
             .join(Rep, Rep.id == Lead.owner_id)
             .where(LeadEvent.outcome.in_((INTAKE, CALLED_AGAIN)), LeadEvent.created_at >= midnight)
             .order_by(LeadEvent.created_at.desc(), LeadEvent.id.desc()))
    if not viewer.is_manager:
        query = query.where(LeadEvent.rep_id == viewer.rep_id)
    found = list(session.execute(query))
    handed = _last_handovers(session, [lead.id for _, lead, _ in found])
    rows = []
    for event, lead, owner in found:
        what = "Called again" if event.outcome == CALLED_AGAIN else (
            "Concern" if lead.kind == "concern" else "New lead")
        since = handed.get(lead.id, lead.created_at)
        # Only on the row of its own intake: a "called again" row is the same lead (one button each).
        own = event.outcome == INTAKE
        rows.append(IntakeRow(lead.id, event.created_at, lead.full_name, what, owner,
                              _state(lead, now, lead.id in handed),
                              own and _may_hand_over(lead, since, now, team)))
    return rows


def _last_handovers(session: Session, lead_ids: list[int]) -> dict[int, datetime]:
    """When each lead was last given to a new owner: the handover clock starts again there."""
    if not lead_ids:
        return {}
    return dict(session.execute(select(LeadEvent.lead_id, func.max(LeadEvent.created_at))
                                .where(LeadEvent.lead_id.in_(lead_ids), LeadEvent.outcome == "reassigned")
                                .group_by(LeadEvent.lead_id)).all())


def _state(lead: Lead, now: datetime, handed_on: bool) -> str:
    if not lead.is_open:
        return "reached" if lead.first_contact_at else lead.status.replace("_", " ")
    waited = f"waiting {max(0, int((now - lead.created_at).total_seconds() // 60))} min"
    if lead.attempts:
        waited = f"{tries(lead)}, {waited}"
    return f"handed on, {waited}" if handed_on else waited


def _may_hand_over(lead: Lead, since: datetime, now: datetime, team: TeamSettings) -> bool:
    """An inbound caller nobody has talked to since it arrived (or was last handed on) for that long."""
    return lead.kind == "inbound" and lead.is_open and now - since >= team.front_desk_handover


def hand_to_next(session: Session, viewer: Viewer, lead_id: int, team: TeamSettings, now: datetime) -> Rep:
    """Give an intake nobody has talked to in ``Front Desk Handover`` to the next rep in turn.

    The desk may only move the callers it took in itself; the new owner gets the handover alert
    and the first owner is told it left them. Returns the new owner.
    """
    require_desk(viewer)
    lead = _intake_lead(session, viewer, lead_id)
    minutes = int(team.front_desk_handover.total_seconds() // 60)
    if lead.kind != "inbound":
        raise NotAllowed("only a new caller can be handed on; a concern stays with the customer's owner")
    if not lead.is_open:
        raise FormErrors({"form": f"{lead.full_name} has been reached already: nothing to hand on"})
    since = _last_handovers(session, [lead.id]).get(lead.id, lead.created_at)
    if not _may_hand_over(lead, since, now, team):
        raise FormErrors({"form": f"give the owner {minutes} minutes to call back before handing it on"})
    previous = session.get(Rep, lead.owner_id)
    desk = session.get(Rep, viewer.rep_id)
    assert previous is not None and desk is not None
    owner = InboundRoundRobin(session, WorkCalendar(team)).next_owner(now, exclude=frozenset({previous.id}))
    if owner is None:
        raise FormErrors({"form": "there is nobody else to hand it to"})
    lead.owner_id = owner.id
    session.add(LeadEvent(lead_id=lead.id, rep_id=desk.id, outcome="reassigned", from_rep_id=previous.id,
                          note=f"handed on by the front desk: no call-back in {minutes} minutes",
                          created_at=now))
    session.flush()  # the alert's key counts this reassignment
    hand_over(session, lead, previous, desk, team, now)
    return owner


def _intake_lead(session: Session, viewer: Viewer, lead_id: int) -> Lead:
    """The lead, if this desk took it in (a manager: any intake); the same answer otherwise."""
    query = select(Lead).join(LeadEvent, LeadEvent.lead_id == Lead.id).where(
        Lead.id == lead_id, LeadEvent.outcome == INTAKE)
    if not viewer.is_manager:
        query = query.where(LeadEvent.rep_id == viewer.rep_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(of=Lead)
    lead = session.scalar(query.limit(1))
    if lead is None:
        raise NotAllowed(f"lead {lead_id} is not a caller you took in")
    return lead
