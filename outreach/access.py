"""Who may see and change what: a rep their own calls and leads, a manager everyone's,
the front desk only the callers it took in (:mod:`outreach.leads.front_desk`) and its own e-mails.

Enforced in the queries and in every write, never by hiding widgets: a page that
forgot to hide a button still cannot show or change another rep's lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from outreach.errors import OutreachError
from outreach.models import FRONT_DESK, Lead, PlannedCall, Rep

Q = TypeVar("Q", bound=Select)
MAX_ROW_ID = 2**63 - 1  # the largest integer key SQLite or PostgreSQL can hold


class NotAllowed(OutreachError):
    """The signed-in person may not see or change this."""


@dataclass(frozen=True)
class Viewer:
    rep_id: int
    email: str
    name: str
    is_manager: bool
    time_zone: str
    role: str = "rep"

    @classmethod
    def of(cls, rep: Rep) -> Viewer:
        return cls(rep.id, rep.email, rep.name, rep.is_manager, rep.time_zone, rep.role)

    @property
    def is_front_desk(self) -> bool:
        return self.role == FRONT_DESK


def viewer_for_email(session: Session, email: str) -> Viewer | None:
    """The active team member with this e-mail (case-insensitive), or None: not on the team."""
    rep = session.scalar(select(Rep).where(Rep.email == email.strip().lower(), Rep.active.is_(True)))
    return Viewer.of(rep) if rep is not None else None


def leads_visible_to(viewer: Viewer, query: Q) -> Q:
    """A manager sees every lead, a rep their own; the front desk none (it sees its intakes' state)."""
    if viewer.is_manager:
        return query
    if viewer.is_front_desk:
        return query.where(false())
    return query.where(Lead.owner_id == viewer.rep_id)


def check_rep(viewer: Viewer, rep_id: int) -> None:
    """A rep's day and leads: their own, or anyone's for a manager; never the front desk's to see."""
    if viewer.is_front_desk:
        raise NotAllowed("the front desk takes callers in; calls and leads are the reps'")
    if not viewer.is_manager and rep_id != viewer.rep_id:
        raise NotAllowed("that belongs to another rep")


def require_manager(viewer: Viewer, what: str = "this") -> None:
    if not viewer.is_manager:
        raise NotAllowed(f"only a manager can see {what}")


def lead_for(session: Session, viewer: Viewer, lead_id: int, *, for_update: bool = False) -> Lead:
    """The lead, if the viewer may see it; the same answer for "missing" and "not yours"."""
    if not 0 < lead_id <= MAX_ROW_ID:  # no such row, and SQLite would raise OverflowError on it
        raise NotAllowed(f"lead {lead_id} is not one of your leads")
    query = leads_visible_to(viewer, select(Lead).where(Lead.id == lead_id))
    if for_update and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    lead = session.scalar(query)
    if lead is None:
        raise NotAllowed(f"lead {lead_id} is not one of your leads")
    return lead


def planned_call_for(session: Session, viewer: Viewer, planned_call_id: int) -> PlannedCall:
    """A call on the viewer's list (a manager: anyone's); locked on PostgreSQL until the save ends."""
    if viewer.is_front_desk:
        raise NotAllowed("the front desk has no calls on a list")
    query = select(PlannedCall).where(PlannedCall.id == planned_call_id)
    if not viewer.is_manager:
        query = query.where(PlannedCall.rep_id == viewer.rep_id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    planned = session.scalar(query)
    if planned is None:
        raise NotAllowed("this call is no longer on your list")
    return planned
