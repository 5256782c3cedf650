"""What the team did, written back into the manager's sheet.

The app owns the `Leads` and `Call Log` tabs (and `Team Summary` and `Referrers`, from the
metrics): it rewrites them whole after a sync and never reads them back as
truth. A tab whose content is already what we would write is left alone, so an
unchanged sheet costs no write request at all. Values are written RAW.

Each target fits the text to what it can hold (see ``sheet_source.fitted_cell``),
so a tab read back may hold a cleaned or cut version of a cell: that counts as
unchanged, or every sync would rewrite it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from outreach.models import Call, Customer, Lead, Rep
from outreach.phones import display
from outreach.sheet.sheet_source import (
    CALL_LOG_TAB,
    LEADS_TAB,
    REFERRERS_TAB,
    TEAM_SUMMARY_TAB,
    Table,
    cell_text,
    cell_units,
    fitted_cell,
    writable_text,
)
from outreach.team.metrics import SUMMARY_HEADER, summary_filters, summary_rows, team_report
from outreach.team.referrers import referrers_table
from outreach.team_settings import TeamSettings

__all__ = ["BUILDERS", "CALL_LOG_TAB", "LEADS_TAB", "REFERRERS_TAB", "TEAM_SUMMARY_TAB", "tables_to_write"]

LEAD_HEADER = ["Lead ID", "Received", "Kind", "Status", "Owner", "First Name", "Last Name", "Phone",
               "Email", "Referred By", "Need", "Attempts", "First Contact",
               "Minutes To First Contact", "Next Reminder", "Closed", "Appointment", "Lost Reason"]
CALL_HEADER = ["Call ID", "When", "Rep", "Customer ID", "Customer", "Company", "Outcome",
               "Liked Best", "Do Better", "Concern", "Referrals", "Do Not Call"]

OUTCOME_LABELS = {"connected": "Connected", "voicemail": "Left voicemail", "no_answer": "No answer",
                  "wrong_number": "Wrong number", "do_not_call": "Asked not to be called"}
STATUS_LABELS = {"new": "New", "attempted": "Attempted", "connected": "Connected",
                 "appointment": "Appointment", "won": "Won", "lost": "Lost",
                 "not_a_fit": "Not a fit", "duplicate": "Duplicate"}


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""


def _phone_cell(lead: Lead, team: TeamSettings) -> str:
    if lead.phone is None and lead.phone_as_typed:
        return f"check the number: {lead.phone_as_typed}"
    return display(lead.phone, team.phone_region)


def _email_cell(lead: Lead) -> str:
    return lead.email or (f"check the e-mail: {lead.email_as_typed}" if lead.email_as_typed else "")


def leads_table(session: Session, team: TeamSettings, now: datetime) -> Table:
    zone = team.zone
    referrer = aliased(Customer)
    rows = session.execute(
        select(Lead, Rep.email, referrer.first_name, referrer.last_name)
        .join(Rep, Rep.id == Lead.owner_id)
        .outerjoin(referrer, referrer.id == Lead.referring_customer_id)
        .order_by(Lead.id)
    ).all()
    table: Table = [LEAD_HEADER]
    for lead, owner, ref_first, ref_last in rows:
        minutes = ("" if lead.first_contact_at is None
                   else int((lead.first_contact_at - lead.created_at).total_seconds() // 60))
        table.append([
            lead.id, _local(lead.created_at, zone), lead.kind.title(),
            STATUS_LABELS.get(lead.status, lead.status), owner, lead.first_name, lead.last_name,
            _phone_cell(lead, team), _email_cell(lead),
            f"{ref_first or ''} {ref_last or ''}".strip(), lead.need, lead.attempts,
            _local(lead.first_contact_at, zone), minutes, _local(lead.next_reminder_at, zone),
            _local(lead.closed_at, zone),
            # The booked time only while it stands: a lead booked, then lost, has no appointment.
            _local(lead.appointment_at, zone) if lead.status == "appointment" else "", lead.lost_reason,
        ])
    return table


def call_log_table(session: Session, team: TeamSettings, now: datetime) -> Table:
    zone = team.zone
    referrals = (select(Lead.call_id, func.count().label("n")).where(Lead.kind == "referral")
                 .group_by(Lead.call_id).subquery())
    rows = session.execute(
        select(Call, Rep.email, Customer, referrals.c.n)
        .join(Rep, Rep.id == Call.rep_id)
        .join(Customer, Customer.id == Call.customer_id)
        .outerjoin(referrals, referrals.c.call_id == Call.id)
        .order_by(Call.id)
    ).all()
    table: Table = [CALL_HEADER]
    for call, rep_email, customer, referral_count in rows:
        table.append([
            call.id, _local(call.created_at, zone), rep_email, customer.sheet_customer_id or "",
            customer.full_name, customer.company, OUTCOME_LABELS.get(call.outcome, call.outcome),
            call.liked_best, call.do_better, "yes" if call.concern else "", referral_count or 0,
            "yes" if call.outcome == "do_not_call" else "",
        ])
    return table


def team_summary_table(session: Session, team: TeamSettings, now: datetime) -> Table:
    """The Team page's per-rep table for the last 30 days, so the manager has it in the sheet."""
    filters = summary_filters(now, team)
    rows = summary_rows(team_report(session, filters, now, team))
    period = f"{filters.start:%Y-%m-%d} to {filters.end:%Y-%m-%d}"
    header = [*SUMMARY_HEADER, "Period"]
    blank = ""  # a cell with nothing to measure
    return [header, *([*(blank if v is None else v for v in row.values()), period] for row in rows)]


TableBuilder = Callable[[Session, TeamSettings, datetime], Table]
BUILDERS: dict[str, TableBuilder] = {LEADS_TAB: leads_table, CALL_LOG_TAB: call_log_table,
                                     TEAM_SUMMARY_TAB: team_summary_table, REFERRERS_TAB: referrers_table}


def _normalised(table: Table | None, *, built: bool) -> list[list[str]]:
    """Cells as text without trailing blanks: how both sources read a tab back.

    A built cell that is nothing but unholdable characters is blank once written.
    """
    rows = [[writable_text(cell_text(c)) if built else cell_text(c) for c in row]
            for row in (table or [])]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _same_cell(built: str, read: str) -> bool:
    if read == built:
        return True
    # A target cuts what it cannot hold: ours, cut to the length it read back with, is it.
    length = cell_units(read)
    return length < cell_units(built) and read == fitted_cell(built, length)


def _unchanged(built: Table, read: Table | None) -> bool:
    ours, theirs = _normalised(built, built=True), _normalised(read, built=False)
    return len(ours) == len(theirs) and all(
        len(mine) == len(held) and all(_same_cell(a, b) for a, b in zip(mine, held, strict=True))
        for mine, held in zip(ours, theirs, strict=True))


def tables_to_write(session: Session, team: TeamSettings, current: Mapping[str, Table | None],
                    now: datetime) -> dict[str, Table]:
    """The app-owned tabs whose content differs from what the sheet holds now."""
    changed = {}
    for title, build in BUILDERS.items():
        table = build(session, team, now)
        if not _unchanged(table, current.get(title)):
            changed[title] = table
    return changed
