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

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer, lead_for, leads_visible_to
from outreach.business_hours import WorkCalendar
from outreach.errors import OutreachError
from outreach.leads.followup import hand_over, resume_following_up, stop_following_up
from outreach.leads.thanks import note_milestone
from outreach.models import CLOSED_STATUSES, FRONT_DESK, MANAGER, OPEN_STATUSES, Lead, LeadEvent, Rep
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


def active_owner(session: Session, email: str | None) -> Rep | None:
    """The active team member with this e-mail who may own leads (the front desk never does)."""
    if not email:
        return None
    return session.scalar(select(Rep).where(Rep.email == email, Rep.active.is_(True), Rep.role != FRONT_DESK))


def working_reps(session: Session) -> list[Rep]:
    """Active people who call or own leads, by name: who a lead can go to, who a filter lists.

    A manager with no daily calls and no leads only manages, and the front desk only answers the
    phone: as an owner or a filter choice they would be a lead nobody calls and a column of zeros.
    """
    owns = select(Lead.id).where(Lead.owner_id == Rep.id).exists()
    return list(session.scalars(select(Rep).where(
        Rep.active.is_(True), Rep.role != FRONT_DESK,
        or_(Rep.role != MANAGER, Rep.daily_calls > 0, owns)).order_by(Rep.name)))


class InboundRoundRobin:
    """Hands inbound leads out in turn: the rep whose last inbound lead is oldest goes next."""

    def __init__(self, session: Session, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        reps = [r for r in active_reps(session) if r.role != FRONT_DESK]  # it would own what it cannot see
        callers = [r for r in reps if r.role == "rep"]
        self.reps = callers or reps
        last = session.execute(
            select(Lead.owner_id, func.max(Lead.created_at))
            .where(Lead.kind == "inbound").group_by(Lead.owner_id)
        ).all()
        self.last_assigned: dict[int, datetime] = {owner: at for owner, at in last}

    def next_owner(self, now: datetime, exclude: frozenset[int] = frozenset()) -> Rep | None:
        """The next rep in turn (``exclude``: never these, e.g. the owner a lead is taken from)."""
        reps = [r for r in self.reps if r.id not in exclude]
        if not reps:
            return None
        open_now = [r for r in reps if self.calendar.is_open(now, ZoneInfo(r.time_zone))]
        pool: Sequence[Rep] = open_now or reps
        never = datetime.min.replace(tzinfo=now.tzinfo)
        owner = min(pool, key=lambda r: (self.last_assigned.get(r.id, never), r.id))
        self.last_assigned[owner.id] = now
        return owner


def concern_owner(session: Session, customer_owner_email: str | None, heard_by: Rep) -> Rep:
    return active_owner(session, customer_owner_email) or heard_by


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
    if outcome == "connected":
        note_milestone(session, lead, now)
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
    """A manager hands a lead to someone else: the new owner hears whose it was, how old and how
    tried it is, and is nagged from now on; the previous owner is told it left them."""
    if not viewer.is_manager:
        raise NotAllowed("only a manager can reassign a lead")
    lead = lead_for(session, viewer, lead_id, for_update=True)
    owner = session.get(Rep, new_owner_id)
    if owner is None or not owner.active:
        raise OutreachError("the new owner is not an active member of the team")
    if lead.owner_id == owner.id:
        return lead
    previous = session.get(Rep, lead.owner_id)
    manager = session.get(Rep, viewer.rep_id)
    assert previous is not None and manager is not None
    lead.owner_id = owner.id
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome="reassigned",
                          from_rep_id=previous.id, note=f"from {previous.name} to {owner.name}",
                          created_at=now))
    session.flush()  # the alert's key counts this reassignment
    hand_over(session, lead, previous, manager, team, now)
    return lead


# A duplicate's two histories: the closed lead says which one was kept, the kept one which was
# closed into it; undoing writes both again. related_lead_id names the other lead each time.
KEPT, UNDONE, REOPENED = "duplicate_kept", "duplicate_undone", "reopened"


def close_as_duplicate(session: Session, viewer: Viewer, lead_id: int, now: datetime, note: str = "",
                       *, kept_id: int | None = None) -> Lead:
    """Close a lead that repeats another; ``kept_id`` is that other lead (the one followed up).

    ``kept_id`` stays optional for callers that predate it; the Team page always names one.
    """
    if not viewer.is_manager:
        raise NotAllowed("only a manager can close a lead as a duplicate")
    lead = lead_for(session, viewer, lead_id, for_update=True)
    if lead.status == "duplicate":
        raise OutreachError("this lead is already closed as a duplicate")
    kept = _kept_lead(session, viewer, lead, kept_id)
    lead.status, lead.closed_at = "duplicate", now
    lead.duplicate_of_id = kept.id if kept else None
    stop_following_up(lead)
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome="closed", next_step="duplicate",
                          note=note.strip(), related_lead_id=kept.id if kept else None, created_at=now))
    if kept is not None:
        session.add(LeadEvent(lead_id=kept.id, rep_id=viewer.rep_id, outcome=KEPT,
                              note=f"{lead.full_name} closed as its duplicate", related_lead_id=lead.id,
                              created_at=now))
    return lead


def _kept_lead(session: Session, viewer: Viewer, lead: Lead, kept_id: int | None) -> Lead | None:
    if kept_id is None:
        return None
    if kept_id == lead.id:
        raise OutreachError("a lead cannot duplicate itself: choose the lead to keep")
    kept = lead_for(session, viewer, kept_id)
    if kept.status == "duplicate":
        raise OutreachError("the lead to keep is itself closed as a duplicate")
    return kept


def undo_duplicate(session: Session, viewer: Viewer, lead_id: int, team: TeamSettings, now: datetime) -> Lead:
    """A manager takes back a "closed as duplicate": the status the follow-ups had given it
    returns, and an open lead is nagged again (no new alert: the owner had it)."""
    if not viewer.is_manager:
        raise NotAllowed("only a manager can undo a duplicate")
    lead = lead_for(session, viewer, lead_id, for_update=True)
    if lead.status != "duplicate":
        raise OutreachError("this lead is not closed as a duplicate")
    kept_id = lead.duplicate_of_id
    lead.status, lead.closed_at = status_before_closing(session, lead)
    lead.duplicate_of_id = None
    if lead.is_open:
        resume_following_up(session, lead, team, now)
    session.add(LeadEvent(lead_id=lead.id, rep_id=viewer.rep_id, outcome=REOPENED, note="not a duplicate",
                          related_lead_id=kept_id, created_at=now))
    if kept_id is not None:
        session.add(LeadEvent(lead_id=kept_id, rep_id=viewer.rep_id, outcome=UNDONE,
                              note=f"{lead.full_name} is not its duplicate after all",
                              related_lead_id=lead.id, created_at=now))
    return lead


# Events that set a lead's status: a logged conversation, and a next step logged without a call
# (outreach.leads.lead_life writes those as "next_step"). The latest one says what the lead was.
STATUS_EVENTS = ("connected", "next_step")


def status_before_closing(session: Session, lead: Lead) -> tuple[str, datetime | None]:
    """What the follow-ups had made of the lead: the last conversation's or next step's status,
    else attempted or new. Read from the history, so closing needs no extra column."""
    last = session.scalar(select(LeadEvent)
                          .where(LeadEvent.lead_id == lead.id, LeadEvent.outcome.in_(STATUS_EVENTS))
                          .order_by(LeadEvent.created_at.desc(), LeadEvent.id.desc()).limit(1))
    if last is None:
        return ("attempted" if lead.attempts else "new"), None
    status = last.next_step or "connected"
    return status, (last.created_at if status in CLOSED_STATUSES else None)


def duplicate_candidates(session: Session, viewer: Viewer, lead_id: int, limit: int = 50) -> list[Lead]:
    """The leads this one may repeat, most likely first: same phone, e-mail, then name, then the
    same owner's; never itself, never another duplicate."""
    lead = lead_for(session, viewer, lead_id)
    alike = [Lead.owner_id == lead.owner_id,
             and_(Lead.first_name == lead.first_name, Lead.last_name == lead.last_name)]
    if lead.phone:
        alike.append(Lead.phone == lead.phone)
    if lead.email:
        alike.append(func.lower(Lead.email) == lead.email.lower())
    # Matches anywhere in the team, plus the owner's own leads (the newest few hundred).
    others = list(session.scalars(leads_visible_to(viewer, select(Lead).where(
        Lead.id != lead.id, Lead.status != "duplicate", or_(*alike)))
        .order_by(Lead.created_at.desc()).limit(500)))
    return sorted(others, key=lambda other: _likeness(lead, other))[:limit]


def match_reason(lead: Lead, other: Lead) -> str:
    """Why ``other`` is offered as what ``lead`` repeats, in words for the Team page."""
    same_phone, same_email, same_name, other_owner = _likeness(lead, other)
    reasons = [word for alike, word in ((same_phone, "phone"), (same_email, "e-mail"), (same_name, "name"))
               if not alike]
    return f"same {', '.join(reasons)}" if reasons else ("same owner" if not other_owner else "")


def _likeness(lead: Lead, other: Lead) -> tuple[bool, bool, bool, bool]:
    """Sort key (False first): a shared phone or e-mail is near proof; a shared name, a hint."""
    same_phone = bool(lead.phone) and other.phone == lead.phone
    same_email = bool(lead.email) and (other.email or "").lower() == (lead.email or "").lower()
    same_name = other.full_name.casefold() == lead.full_name.casefold()
    return (not same_phone, not same_email, not same_name, other.owner_id != lead.owner_id)


def recent_duplicates(session: Session, viewer: Viewer, since: datetime) -> list[Lead]:
    """Leads closed as duplicates since then, newest first: what a manager may want to undo."""
    return list(session.scalars(leads_visible_to(viewer, select(Lead).where(
        Lead.status == "duplicate", Lead.closed_at >= since)).order_by(Lead.closed_at.desc())))
