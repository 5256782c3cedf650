"""Who refers: customers ranked by the referrals they gave and what became of them, and each rep's
referrals from taken to won.

A referral counts in the range it was taken (its lead's arrival). "Reached" is a first
conversation, "appointments" a referral that ever got one (booked, or won), "won" a won deal. A
rep is credited with the referrals they took on their calls, whoever owns the lead now (a lead
won after a reassignment is still the taker's referral), so the numbers say who asks well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from outreach.access import Viewer, require_manager
from outreach.models import Call, Customer, Lead, Rep
from outreach.team.metrics import Filters
from outreach.team_settings import TeamSettings

REFERRERS_HEADER = ["Customer ID", "Customer", "Company", "Owner", "Referrals", "Reached", "Appointments",
                    "Won", "Value Won", "Do Not Call"]
REP_HEADER = ["Rep", "Referrals taken", "Reached", "Won"]


@dataclass(frozen=True)
class ReferrerRow:
    customer_id: int
    sheet_customer_id: str
    name: str
    company: str
    owner: str
    given: int
    reached: int
    appointments: int
    won: int
    value: Decimal | None  # won x Average Deal Value, when that is set
    do_not_call: bool


@dataclass(frozen=True)
class RepReferrals:
    rep_id: int
    name: str
    taken: int
    reached: int
    won: int


@dataclass(frozen=True)
class ReferrerReport:
    customers: list[ReferrerRow]  # most referrals first, then most reached, booked, won
    reps: list[RepReferrals]  # most referrals taken first
    total: int  # customers who referred in the range (``customers`` may hold only the first few)


def _counts(lead: type[Lead]) -> tuple[Any, Any, Any, Any]:
    """Referrals, reached, appointments (booked or won), won: aggregates over the selected leads."""
    reached = func.count().filter(lead.first_contact_at.is_not(None))
    booked = func.count().filter(or_(lead.status.in_(("appointment", "won")),
                                     lead.appointment_at.is_not(None)))
    return func.count(), reached, booked, func.count().filter(lead.status == "won")


def referrer_report(session: Session, filters: Filters, team: TeamSettings,
                    limit: int | None = None) -> ReferrerReport:
    """Everyone's referrers (the best ``limit``), for a trusted caller (the Team page via referrers_for,
    the write-back and the CSV)."""
    begin, finish = filters.window(team)
    taken = and_(Lead.kind == "referral", Lead.created_at >= begin, Lead.created_at < finish,
                 *_by_reps(filters))
    # The counts per customer first, then only the columns shown: a year holds tens of thousands.
    counts = (c.label(n) for c, n in zip(_counts(Lead), ("given", "reached", "booked", "won"), strict=True))
    per_customer = (select(Lead.referring_customer_id.label("customer_id"), *counts)
                    .where(taken, Lead.referring_customer_id.is_not(None))
                    .group_by(Lead.referring_customer_id).subquery())
    owners = dict(session.execute(select(Rep.email, Rep.name)).all())
    counted = per_customer.c
    rows = session.execute(
        select(Customer.id, Customer.sheet_customer_id, Customer.first_name, Customer.last_name,
               Customer.company, Customer.owner_email,
               Customer.do_not_call | Customer.do_not_call_requested_at.is_not(None),
               counted.given, counted.reached, counted.booked, counted.won)
        .join(per_customer, counted.customer_id == Customer.id)
        .order_by(counted.given.desc(), counted.reached.desc(), counted.booked.desc(), counted.won.desc(),
                  func.lower(Customer.first_name + " " + Customer.last_name), Customer.id)
        .limit(limit))
    value = team.average_deal_value
    customers = [ReferrerRow(cid, sheet_id or "", f"{first} {last}".strip(), company or "",
                             owners.get(owner or "", ""), n, r, b, w,
                             value * w if value is not None else None, bool(dnc))
                 for cid, sheet_id, first, last, company, owner, dnc, n, r, b, w in rows]
    total = len(customers) if limit is None or len(customers) < limit else \
        session.scalar(select(func.count()).select_from(per_customer)) or 0
    given, reached, _, won = _counts(Lead)
    reps = [RepReferrals(rep_id, name, n, r, w) for rep_id, name, n, r, w in session.execute(
        select(Rep.id, Rep.name, given, reached, won).join(Call, Call.rep_id == Rep.id)
        .join(Lead, Lead.call_id == Call.id).where(taken).group_by(Rep.id, Rep.name))]
    reps.sort(key=lambda row: (-row.taken, -row.won, row.name.casefold()))
    return ReferrerReport(customers, reps, total)


def _by_reps(filters: Filters) -> list[ColumnElement[bool]]:
    """A rep filter keeps the referrals those reps took."""
    if filters.rep_ids is None:
        return []
    return [Lead.call_id.in_(select(Call.id).where(Call.rep_id.in_(filters.rep_ids)))]


def referrers_for(session: Session, viewer: Viewer, filters: Filters, team: TeamSettings,
                  limit: int | None = None) -> ReferrerReport:
    require_manager(viewer, "who refers")
    return referrer_report(session, filters, team, limit)


def referrers_csv(session: Session, viewer: Viewer, filters: Filters, team: TeamSettings) -> bytes:
    """Every referrer of the range as a CSV file (the Team page's download, made when clicked)."""
    from outreach.csv_export import csv_bytes

    rows = referrer_rows(referrers_for(session, viewer, filters, team))
    return csv_bytes((dict(zip(REFERRERS_HEADER, row, strict=True)) for row in rows), REFERRERS_HEADER)


def referrer_rows(report: ReferrerReport) -> list[list[object]]:
    """The customers' table as written to the Referrers tab and the CSV (header: REFERRERS_HEADER)."""
    return [[row.sheet_customer_id, row.name, row.company, row.owner, row.given, row.reached,
             row.appointments, row.won, "" if row.value is None else f"{row.value:.2f}",
             "yes" if row.do_not_call else ""]
            for row in report.customers]


def period_label(filters: Filters) -> str:
    return f"{filters.start:%Y-%m-%d} to {filters.end:%Y-%m-%d}"


def referrers_table(session: Session, team: TeamSettings, now: datetime) -> list[list[object]]:
    """The Referrers tab: the Team page's table for the same period as Team Summary."""
    from outreach.team.metrics import summary_filters

    filters = summary_filters(now, team)
    rows = referrer_rows(referrer_report(session, filters, team))
    return [[*REFERRERS_HEADER, "Period"], *([*row, period_label(filters)] for row in rows)]
