"""The Inbound tab: each row a receptionist types or a web form appends becomes one lead.

A row is recognised by who enquired and when (``validation.inbound_key``), not by
where it is or how its free text reads, so inserting, sorting or deleting rows
above it, correcting its note or reformatting its phone never makes a second lead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.business_hours import WorkCalendar
from outreach.leads.followup import start_following_up
from outreach.leads.leads import InboundRoundRobin
from outreach.models import FRONT_DESK, Lead, Rep
from outreach.sheet.inbound_rows import InboundRecord
from outreach.team_settings import TeamSettings


def received_at(record: InboundRecord, now: datetime) -> datetime:
    """When the enquiry came in (the form's Timestamp), never in the future; else now.

    Speed-to-lead is measured from here, so a lead picked up late is not flattered.
    """
    return now if record.received is None else min(record.received, now)


def _unseen(session: Session, records: list[InboundRecord]) -> list[InboundRecord]:
    """The records no lead has come from yet.

    A lead found under one of a record's earlier keys takes the record's current key, so
    the next edit of the row is recognised by it (and a phone it lacked).
    """
    # All of them, not an IN list: three keys a row would outgrow SQLite's bind limit. With each, whether
    # the lead is flagged "check the e-mail".
    stored: dict[str, bool] = dict(session.execute(
        select(Lead.inbound_key, Lead.email_as_typed != "").where(Lead.inbound_key.is_not(None))).all())
    fresh = []
    for record in records:
        if record.key in stored:  # one lead answers for one row
            if stored.pop(record.key) and record.email:  # known by its phone: the address was fixed beside it
                _fill_in(session, record.key, record, {})
            continue
        earlier = next((key for key in record.earlier_keys if key in stored), None)
        if earlier is None:
            fresh.append(record)
            continue
        del stored[earlier]
        _fill_in(session, earlier, record, {"inbound_key": record.key})
    return fresh


def _fill_in(session: Session, key: str, record: InboundRecord, values: dict[str, object]) -> None:
    """A number or address fixed in the sheet fills in a lead flagged "check the number" (or e-mail)."""
    if record.phone:
        values |= {"phone": func.coalesce(Lead.phone, record.phone), "phone_as_typed": ""}
    if record.email:
        values |= {"email": func.coalesce(Lead.email, record.email), "email_as_typed": ""}
    session.execute(update(Lead).where(Lead.inbound_key == key).values(values)
                    .execution_options(synchronize_session=False))


def import_inbound(session: Session, records: list[InboundRecord], team: TeamSettings,
                   now: datetime) -> list[Lead]:
    """Create the leads for rows not seen before, each with its alert queued; return them."""
    if not records:
        return []
    fresh = _unseen(session, records)
    if not fresh:
        return []
    # An Owner who is the front desk is no owner: it cannot see leads, so the row goes round-robin.
    reps_by_email = {rep.email: rep for rep in session.scalars(
        select(Rep).where(Rep.active.is_(True), Rep.role != FRONT_DESK))}
    round_robin = InboundRoundRobin(session, WorkCalendar(team))
    leads = []
    for record in fresh:
        owner = reps_by_email.get(record.owner_email or "") or round_robin.next_owner(now)
        if owner is None:
            break  # no active rep at all: keep the rows for the next sync
        lead = Lead(
            kind="inbound", status="new", owner_id=owner.id, first_name=record.first_name,
            last_name=record.last_name, phone=record.phone, email=record.email,
            need=record.reason, heard_about=record.heard_about, inbound_key=record.key,
            created_at=received_at(record, now), phone_as_typed=record.phone_as_typed,
            email_as_typed=record.email_as_typed,
        )
        session.add(lead)
        leads.append(lead)
    session.flush()
    for lead in leads:
        start_following_up(session, lead, team, now)  # the owner's alert, in this transaction
    return leads
