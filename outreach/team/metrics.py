"""The manager's numbers: is the team calling, asking, and following up fast?

One report for a date range and a set of reps feeds the Team page, its CSV
downloads and the sheet's `Team Summary` tab, so the three never disagree.
The definitions live here and nowhere else:

- **calls planned** are the quota slots on the reps' daily lists (a skipped or
  wrong-number customer's replacement fills the same slot); **calls made** are
  the slots whose call was logged. Planned minus made is the shortfall.
- **referral asks** are Connected calls with customers: the script always ends
  with "who do you know?". **Conversations** are those plus Connected
  follow-ups of leads.
- **referrals** are the leads those calls produced, counted for the rep who
  took them, even if the lead was handed to someone else later.
- **speed to lead** is wall-clock time from a lead's arrival to the first
  conversation logged with them: that is what the lead experiences, nights and
  weekends included. A lead still waiting counts as missed once it is older
  than the mark (5 or 15 minutes), and as not yet decided before that.
- **excuses** are voicemails, no-answers and wrong numbers, on customer calls
  and on lead follow-ups alike: attempts that never became a conversation.
- **appointments or won** counts a lead that was ever booked or won, even if it was logged weeks after
  the first conversation or lost later: how far each lead got, not where it stands today.
- **overdue** is the follow-up engine's rule (open, past the first reminder),
  right now, whatever the date range.

Scale: every figure comes from a handful of grouped queries; only the leads of
the range are read row by row (for medians), so twelve months of a 200-rep
team render well inside a second (bench/page.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, exists, func, or_, select
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer
from outreach.leads.leads import overdue_cutoff
from outreach.models import OPEN_STATUSES, Call, Lead, LeadEvent, PlannedCall, Rep
from outreach.team_settings import TeamSettings

SPEED_MARKS = (5, 15)  # minutes: the lead-response study's goal, and already late
EXCUSES = ("voicemail", "no_answer", "wrong_number")
WON = ("appointment", "won")
SUMMARY_DAYS = 30  # the Team Summary tab covers the last 30 days


@dataclass(frozen=True)
class Filters:
    start: date  # inclusive, in the team's time zone
    end: date  # inclusive
    rep_ids: frozenset[int] | None = None  # None: everyone

    def window(self, team: TeamSettings) -> tuple[datetime, datetime]:
        """The range as UTC instants: [start 00:00, the day after end 00:00) in the team's zone."""
        zone = team.zone
        begin = datetime.combine(self.start, time(0), zone)
        finish = datetime.combine(self.end + timedelta(days=1), time(0), zone)
        return begin.astimezone(UTC), finish.astimezone(UTC)


@dataclass
class RepStats:
    """One rep's numbers for the range (or the team's, added up)."""

    rep_id: int | None
    name: str
    calls_planned: int = 0
    calls_done: int = 0
    referral_asks: int = 0
    conversations: int = 0
    referrals: int = 0
    leads_owned: int = 0
    speed_minutes: list[float] = field(default_factory=list)  # of the leads reached
    reached_within: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SPEED_MARKS, 0))
    decided: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SPEED_MARKS, 0))
    open_leads: int = 0
    overdue_leads: int = 0
    voicemail: int = 0
    no_answer: int = 0
    wrong_number: int = 0
    appointments_or_won: int = 0  # of the leads owned: ever booked or won, whatever became of them later
    won: int = 0  # of the leads owned: won now

    @property
    def shortfall(self) -> int:
        return max(0, self.calls_planned - self.calls_done)

    @property
    def quota_met(self) -> float | None:
        return self.calls_done / self.calls_planned if self.calls_planned else None

    @property
    def referrals_per_ask(self) -> float | None:
        return self.referrals / self.referral_asks if self.referral_asks else None

    @property
    def median_minutes(self) -> float | None:
        return statistics.median(self.speed_minutes) if self.speed_minutes else None

    def share_within(self, minutes: int) -> float | None:
        decided = self.decided[minutes]
        return self.reached_within[minutes] / decided if decided else None

    @property
    def excuses(self) -> int:
        return self.voicemail + self.no_answer + self.wrong_number

    @property
    def tries(self) -> int:
        """Calls and follow-up attempts: each either became a conversation or an excuse."""
        return self.excuses + self.conversations

    def add(self, other: RepStats) -> None:
        for name in ("calls_planned", "calls_done", "referral_asks", "conversations", "referrals",
                     "leads_owned", "open_leads", "overdue_leads", *EXCUSES, "appointments_or_won", "won"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.speed_minutes.extend(other.speed_minutes)
        for mark in SPEED_MARKS:
            self.reached_within[mark] += other.reached_within[mark]
            self.decided[mark] += other.decided[mark]


@dataclass(frozen=True)
class DailyCalls:
    day: date
    done: int
    quota: int


@dataclass(frozen=True)
class Funnel:
    customers_called: int
    conversations: int
    referrals: int
    leads_reached: int
    appointments_or_won: int


@dataclass(frozen=True)
class OverdueLead:
    lead_id: int
    name: str
    kind: str
    status: str
    owner_id: int
    owner_name: str
    created_at: datetime
    age_minutes: float
    attempts: int
    phone: str | None


@dataclass
class TeamReport:
    filters: Filters
    reps: list[RepStats]
    totals: RepStats
    daily: list[DailyCalls]
    funnel: Funnel
    overdue: list[OverdueLead]  # oldest first
    value_at_risk: Decimal | None

    @property
    def speed_minutes(self) -> list[float]:
        return self.totals.speed_minutes

    @property
    def unreached(self) -> int:
        """Leads of the range with no conversation yet."""
        return self.totals.leads_owned - len(self.totals.speed_minutes)


def report_for(session: Session, viewer: Viewer, filters: Filters, now: datetime,
               team: TeamSettings) -> TeamReport:
    """The report as a page may show it: every rep's numbers are for managers only."""
    if not viewer.is_manager:
        raise NotAllowed("the team's numbers are for managers")
    return team_report(session, filters, now, team)


def team_report(session: Session, filters: Filters, now: datetime, team: TeamSettings) -> TeamReport:
    """Everyone's numbers, for a trusted caller (the Team page via report_for, the write-back)."""
    begin, finish = filters.window(team)
    stats = _rep_rows(session, filters, begin, finish)
    daily = _plan_slots(session, filters, stats)
    _call_outcomes(session, filters, begin, finish, stats)
    _followup_outcomes(session, filters, begin, finish, stats)
    _referrals(session, filters, begin, finish, stats)
    reached, won = _speed_to_lead(session, filters, begin, finish, now, stats)
    overdue = _open_leads(session, filters, now, team, stats)
    reps = sorted(stats.values(), key=lambda r: r.name.lower())
    totals = RepStats(None, "Team")
    for rep in reps:
        totals.add(rep)
    funnel = Funnel(customers_called=_customers_called(session, filters, begin, finish),
                    conversations=totals.referral_asks, referrals=totals.referrals,
                    leads_reached=reached, appointments_or_won=won)
    value = team.average_deal_value * len(overdue) if team.average_deal_value is not None else None
    return TeamReport(filters, reps, totals, daily, funnel, overdue, value)


def _for_reps(column: Any, filters: Filters) -> ColumnElement[bool]:
    return column.in_(sorted(filters.rep_ids)) if filters.rep_ids is not None else column.is_not(None)


def _rep_rows(session: Session, filters: Filters, begin: datetime,
              finish: datetime) -> dict[int, RepStats]:
    """Active callers, plus anyone (a manager, a rep who left) with calls or leads in the range."""
    busy = or_(
        Rep.id.in_(select(Call.rep_id).where(Call.created_at >= begin, Call.created_at < finish)),
        Rep.id.in_(select(Lead.owner_id).where(Lead.created_at >= begin, Lead.created_at < finish)),
        Rep.id.in_(select(Lead.owner_id).where(Lead.status.in_(OPEN_STATUSES))),
    )
    query = select(Rep.id, Rep.name).where(
        or_(Rep.active.is_(True) & (Rep.role == "rep"), busy), _for_reps(Rep.id, filters))
    return {rep_id: RepStats(rep_id, name) for rep_id, name in session.execute(query)}


def _plan_slots(session: Session, filters: Filters, stats: dict[int, RepStats]) -> list[DailyCalls]:
    """Quota slots and calls made per rep, and per day for the chart, from the daily lists."""
    # Every replacement fills the slot of the call it replaced.
    slots = func.count() - func.count(PlannedCall.replacement_for_id)
    done = func.coalesce(func.sum(case((PlannedCall.status == "done", 1), else_=0)), 0)
    # Only the reps in the table, so the chart adds up to the table.
    in_range = (PlannedCall.plan_date >= filters.start, PlannedCall.plan_date <= filters.end,
                PlannedCall.rep_id.in_(sorted(stats)))
    # Grouped twice in SQL rather than by (rep, day) in Python: a year of 200 reps is
    # 50,000 groups, which cost more to ship than both scans together.
    by_rep = select(PlannedCall.rep_id, slots, done).where(*in_range).group_by(PlannedCall.rep_id)
    for rep_id, rep_slots, rep_done in session.execute(by_rep):
        stats[rep_id].calls_planned += rep_slots
        stats[rep_id].calls_done += rep_done
    by_day = select(PlannedCall.plan_date, slots, done).where(*in_range).group_by(PlannedCall.plan_date)
    days = {day: (day_done, day_slots) for day, day_slots, day_done in session.execute(by_day)}
    span = (filters.end - filters.start).days + 1
    return [DailyCalls(day, *days.get(day, (0, 0)))
            for day in (filters.start + timedelta(days=n) for n in range(span))]


def _call_outcomes(session: Session, filters: Filters, begin: datetime, finish: datetime,
                   stats: dict[int, RepStats]) -> None:
    query = (select(Call.rep_id, Call.outcome, func.count())
             .where(Call.created_at >= begin, Call.created_at < finish, _for_reps(Call.rep_id, filters))
             .group_by(Call.rep_id, Call.outcome))
    for rep_id, outcome, count in session.execute(query):
        if (rep := stats.get(rep_id)) is None:
            continue
        if outcome == "connected":
            rep.referral_asks += count
            rep.conversations += count
        elif outcome in EXCUSES:
            setattr(rep, outcome, getattr(rep, outcome) + count)


def _followup_outcomes(session: Session, filters: Filters, begin: datetime, finish: datetime,
                       stats: dict[int, RepStats]) -> None:
    query = (select(LeadEvent.rep_id, LeadEvent.outcome, func.count())
             .where(LeadEvent.created_at >= begin, LeadEvent.created_at < finish,
                    LeadEvent.outcome.in_(("connected", *EXCUSES)), _for_reps(LeadEvent.rep_id, filters))
             .group_by(LeadEvent.rep_id, LeadEvent.outcome))
    for rep_id, outcome, count in session.execute(query):
        if (rep := stats.get(rep_id)) is None:
            continue
        if outcome == "connected":
            rep.conversations += count
        else:
            setattr(rep, outcome, getattr(rep, outcome) + count)


def _referrals(session: Session, filters: Filters, begin: datetime, finish: datetime,
               stats: dict[int, RepStats]) -> None:
    query = (select(Call.rep_id, func.count(Lead.id))
             .join(Call, Call.id == Lead.call_id)
             .where(Lead.kind == "referral", Lead.created_at >= begin, Lead.created_at < finish,
                    _for_reps(Call.rep_id, filters))
             .group_by(Call.rep_id))
    for rep_id, count in session.execute(query):
        if (rep := stats.get(rep_id)) is not None:
            rep.referrals += count


def _speed_to_lead(session: Session, filters: Filters, begin: datetime, finish: datetime,
                   now: datetime, stats: dict[int, RepStats]) -> tuple[int, int]:
    """Each lead of the range, for its owner: how fast it was reached. Returns the funnel's tail."""
    # Epoch seconds from the database, not datetimes: a year of leads is tens of thousands of
    # rows, and building two datetimes per row cost more than the query.
    # An appointment or a win logged at any time counts, even one that later turned into a loss:
    # the funnel asks how far each referral got, not where it stands today.
    ever_won = exists().where(LeadEvent.lead_id == Lead.id, LeadEvent.next_step.in_(WON))
    query = (select(Lead.owner_id, Lead.kind, Lead.status, Lead.status.in_(WON) | ever_won,
                    func.extract("epoch", Lead.created_at), func.extract("epoch", Lead.first_contact_at))
             .where(Lead.created_at >= begin, Lead.created_at < finish, Lead.status != "duplicate",
                    _for_reps(Lead.owner_id, filters)))
    now_epoch = now.timestamp()
    referrals_reached = referrals_won = 0
    for owner_id, kind, status, got_far, created, contacted in session.execute(query):
        if (rep := stats.get(owner_id)) is None:
            continue
        rep.leads_owned += 1
        rep.appointments_or_won += bool(got_far)
        rep.won += status == "won"
        waited = (float(contacted if contacted is not None else now_epoch) - float(created)) / 60
        if contacted is not None:
            rep.speed_minutes.append(waited)
        for mark in SPEED_MARKS:
            # Reached: in time or not, it counts. Still waiting: a miss once past the mark,
            # but a lead that arrived two minutes ago has not missed "within 5" yet.
            if contacted is not None or waited >= mark:
                rep.decided[mark] += 1
                rep.reached_within[mark] += contacted is not None and waited <= mark
        if kind == "referral":
            referrals_reached += contacted is not None
            referrals_won += bool(got_far)
    return referrals_reached, referrals_won


def _open_leads(session: Session, filters: Filters, now: datetime, team: TeamSettings,
                stats: dict[int, RepStats]) -> list[OverdueLead]:
    """Open leads per owner right now, and the overdue ones in full, oldest first."""
    cutoff = overdue_cutoff(now, team)
    counts = (select(Lead.owner_id, func.count(), func.sum(case((Lead.created_at <= cutoff, 1), else_=0)))
              .where(Lead.status.in_(OPEN_STATUSES), _for_reps(Lead.owner_id, filters))
              .group_by(Lead.owner_id))
    for owner_id, count, overdue in session.execute(counts):
        if (rep := stats.get(owner_id)) is not None:
            rep.open_leads += count
            rep.overdue_leads += overdue or 0
    return _overdue(session, _for_reps(Lead.owner_id, filters), now, team)


def overdue_lead(session: Session, viewer: Viewer, lead_id: int, now: datetime,
                 team: TeamSettings) -> OverdueLead | None:
    """One lead as the overdue table shows it, whatever the page's filters; None if it is not overdue."""
    if not viewer.is_manager:
        raise NotAllowed("the team's leads are for managers")
    found = _overdue(session, Lead.id == lead_id, now, team)
    return found[0] if found else None


def _overdue(session: Session, condition: ColumnElement[bool], now: datetime,
             team: TeamSettings) -> list[OverdueLead]:
    # Plain columns, not Lead objects: a neglected team can have thousands of these.
    query = (select(Lead.id, Lead.first_name, Lead.last_name, Lead.kind, Lead.status, Lead.owner_id,
                    Rep.name, Lead.created_at, Lead.attempts, Lead.phone)
             .join(Rep, Rep.id == Lead.owner_id)
             .where(Lead.status.in_(OPEN_STATUSES), Lead.created_at <= overdue_cutoff(now, team), condition)
             .order_by(Lead.created_at, Lead.id))
    return [OverdueLead(lead_id, f"{first} {last}".strip(), kind, status, owner_id, owner, created,
                        (now - created).total_seconds() / 60, attempts, phone)
            for lead_id, first, last, kind, status, owner_id, owner, created, attempts, phone
            in session.execute(query)]


def _customers_called(session: Session, filters: Filters, begin: datetime, finish: datetime) -> int:
    return session.scalar(
        select(func.count(func.distinct(Call.customer_id)))
        .where(Call.created_at >= begin, Call.created_at < finish, _for_reps(Call.rep_id, filters))) or 0


# None where there is nothing to measure (no calls, no leads): a blank, never a misleading 0.
def _percent(share: float | None) -> int | None:
    return None if share is None else round(share * 100)


def _number(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


SUMMARY_HEADER = ["Rep", "Calls planned", "Calls made", "Quota met (%)", "Referral asks",
                  "Conversations", "Referrals", "Referrals per ask", "Leads owned",
                  "Median minutes to talk", "Reached within 5 min (%)", "Reached within 15 min (%)",
                  "Open leads", "Overdue leads", "Voicemail", "No answer", "Wrong number",
                  "Never a conversation (%)", "Appointments or won", "Won"]


def summary_rows(report: TeamReport) -> list[dict[str, Any]]:
    """The per-rep table, as the page shows it and the CSV and the sheet receive it."""
    return [dict(zip(SUMMARY_HEADER, _summary_values(r), strict=True)) for r in report.reps]


def _summary_values(r: RepStats) -> list[Any]:
    return [
        r.name,
        r.calls_planned,
        r.calls_done,
        _percent(r.quota_met),
        r.referral_asks,
        r.conversations,
        r.referrals,
        _number(r.referrals_per_ask, 2),
        r.leads_owned,
        _number(r.median_minutes),
        _percent(r.share_within(5)),
        _percent(r.share_within(15)),
        r.open_leads,
        r.overdue_leads,
        r.voicemail,
        r.no_answer,
        r.wrong_number,
        _percent(r.excuses / r.tries if r.tries else None),
        r.appointments_or_won,
        r.won,
    ]


def summary_filters(now: datetime, team: TeamSettings) -> Filters:
    """The Team Summary tab's range: the last 30 days, today included, in the team's zone."""
    today = now.astimezone(team.zone).date()
    return Filters(start=today - timedelta(days=SUMMARY_DAYS - 1), end=today)
