"""The daily call plan: which customers each rep asks for referrals today.

Rules (the product's promise to managers):

- every active rep gets ``Daily Calls`` customers on each of their working days
  (in the rep's own zone), none on weekends or public holidays;
- eligible: active, not Do Not Call, has a phone, not asked within the cooldown,
  not on anyone else's list that day (a database constraint guarantees it);
- order: the rep's own customers first, then unowned ones; never-asked before
  longest-since-asked; ties broken by a stable hash of (customer, date), so the
  spread is fair and the same inputs always give the same plan;
- building a day's plan again changes nothing; a "skip" or "wrong number" earns
  exactly one replacement; yesterday's unfinished calls simply return to the pool.

Scale: one query loads every eligible customer as three integer columns and the
ranking is done with numpy, so a million customers and ten thousand reps plan in
seconds (bench/plan.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from outreach.access import Viewer, check_rep
from outreach.business_hours import WorkCalendar
from outreach.db import Database
from outreach.errors import OutreachError
from outreach.models import Call, Customer, PlannedCall, Rep
from outreach.phones import display
from outreach.team_settings import TeamSettings

PLAN_AHEAD = timedelta(minutes=60)  # plans are built this long before the call-list time
NEVER_ASKED = -1  # sorts before every real timestamp
PLAN_LOCK = 0x504C414E << 24  # "PLAN": keeps our advisory lock ids apart from anyone else's


def local_day(now: datetime, rep: Rep) -> date:
    return now.astimezone(ZoneInfo(rep.time_zone)).date()


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64: a well-spread, platform-independent hash of uint64 values."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def tie_break(customer_ids: np.ndarray, day: date) -> np.ndarray:
    """The stable per-day hash that orders customers asked equally long ago."""
    seed = np.uint64(day.toordinal()) << np.uint64(40)
    return _mix(customer_ids.astype(np.uint64) ^ seed)


def rank(customer_ids: np.ndarray, asked: np.ndarray, day: date) -> np.ndarray:
    """Positions of the customers, best first: never-asked, then longest-since-asked, then hash."""
    return np.lexsort((tie_break(customer_ids, day), asked))


def _candidates(session: Session, day: date, cutoff: datetime,
                only_owners: Iterable[int] | None = None) -> tuple[np.ndarray, ...]:
    """Eligible customers as (ids, asked-at epoch seconds, owning rep id or -1)."""
    # Only reps who make calls own customers for planning: a manager's customers are shared out.
    owner = select(Rep.id, Rep.email).where(Rep.active.is_(True), Rep.daily_calls > 0).subquery()
    taken = select(PlannedCall.customer_id).where(PlannedCall.plan_date == day)
    # A number found wrong stays out until the sheet changes the customer (a new number).
    wrong = (select(Call.customer_id, func.max(Call.created_at).label("at"))
             .where(Call.outcome == "wrong_number").group_by(Call.customer_id).subquery())
    asked = func.coalesce(func.extract("epoch", Customer.last_asked_at), NEVER_ASKED)
    query = (
        select(Customer.id, asked, func.coalesce(owner.c.id, -1))
        .outerjoin(owner, owner.c.email == Customer.owner_email)
        .outerjoin(wrong, wrong.c.customer_id == Customer.id)
        .where(
            Customer.active.is_(True),
            Customer.phone.is_not(None),
            Customer.do_not_call.is_(False),
            Customer.do_not_call_requested_at.is_(None),
            (Customer.last_asked_at.is_(None)) | (Customer.last_asked_at < cutoff),
            (wrong.c.at.is_(None)) | (wrong.c.at < Customer.updated_at),
            Customer.id.not_in(taken),
        )
    )
    if only_owners is not None:
        query = query.where((owner.c.id.is_(None)) | (owner.c.id.in_(list(only_owners))))
    # Plain tuples for numpy: handed SQLAlchemy Row objects, numpy probes each one for
    # array attributes, which made a million rows take 17 s instead of 2.
    rows = [tuple(row) for row in session.connection().execute(query)]
    if not rows:
        empty = np.array([], dtype=np.int64)
        return empty, empty.astype(np.float64), empty
    data = np.array(rows, dtype=np.float64)
    return data[:, 0].astype(np.int64), data[:, 1], data[:, 2].astype(np.int64)


def allocate(quotas: dict[int, int], ids: np.ndarray, asked: np.ndarray, owners: np.ndarray,
             day: date) -> dict[int, list[int]]:
    """Give each rep its quota: own customers first, then unowned ones in turn."""
    order = rank(ids, asked, day)
    ids, owners = ids[order], owners[order]
    picks: dict[int, list[int]] = defaultdict(list)
    for customer, owner in zip(ids[owners >= 0].tolist(), owners[owners >= 0].tolist(), strict=True):
        if owner in quotas and len(picks[owner]) < quotas[owner]:
            picks[owner].append(customer)
    pool = iter(ids[owners < 0].tolist())
    # Reps take turns on the shared pool, in an order that changes every day.
    turn = sorted(quotas, key=lambda rep: int(tie_break(np.array([rep]), day)[0]))
    hungry = [rep for rep in turn if len(picks[rep]) < quotas[rep]]
    while hungry:
        still = []
        for rep in hungry:
            customer = next(pool, None)
            if customer is None:
                return dict(picks)
            picks[rep].append(customer)
            if len(picks[rep]) < quotas[rep]:
                still.append(rep)
        hungry = still
    return dict(picks)


def plan_day(session: Session, day: date, reps: list[Rep], team: TeamSettings,
             now: datetime) -> dict[int, list[int]]:
    """Create the day's plan for the reps who have none yet; return what was added per rep."""
    _lock_the_day(session, day)
    planned = set(session.scalars(
        select(PlannedCall.rep_id).where(PlannedCall.plan_date == day).distinct()))
    calendar = WorkCalendar(team)
    quotas = {rep.id: rep.daily_calls for rep in reps
              if rep.active and rep.daily_calls > 0 and rep.id not in planned
              and calendar.is_workday(day)}
    if not quotas:
        return {}
    cutoff = now - timedelta(days=team.referral_cooldown_days)
    only = quotas if len(quotas) < 50 else None  # a small batch need not load everyone's customers
    picks = allocate(quotas, *_candidates(session, day, cutoff, only), day)
    rows = [{"plan_date": day, "rep_id": rep_id, "customer_id": customer, "position": position,
             "status": "open", "created_at": now}
            for rep_id, customers in picks.items()
            for position, customer in enumerate(customers, start=1)]
    if rows:
        session.execute(insert(PlannedCall), rows)
    return picks


def _lock_the_day(session: Session, day: date) -> None:
    """One planner per day at a time (the worker and a rep's "build now" button may race).

    PostgreSQL: a transaction-scoped advisory lock. SQLite lets one writer in at a time, and
    the loser of a race fails on commit instead of writing a second plan.
    """
    if session.bind.dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(PLAN_LOCK + day.toordinal())))


def reps_due_for_plans(session: Session, now: datetime, team: TeamSettings) -> dict[date, list[Rep]]:
    """Reps whose working day has reached plan time (in their zone) and who have no plan yet."""
    calendar = WorkCalendar(team)
    due: dict[date, list[Rep]] = defaultdict(list)
    reps = session.scalars(select(Rep).where(Rep.active.is_(True), Rep.daily_calls > 0))
    for rep in reps:
        zone = ZoneInfo(rep.time_zone)
        day = now.astimezone(zone).date()
        if calendar.is_workday(day) and now >= calendar.at_local(day, team.call_list_time, zone) - PLAN_AHEAD:
            due[day].append(rep)
    for day, candidates in list(due.items()):
        have = set(session.scalars(select(PlannedCall.rep_id).where(
            PlannedCall.plan_date == day, PlannedCall.rep_id.in_([r.id for r in candidates]))))
        due[day] = [r for r in candidates if r.id not in have]
        if not due[day]:
            del due[day]
    return dict(due)


def build_due_plans(session: Session, now: datetime, team: TeamSettings) -> int:
    """The worker's job: plan every rep whose morning has come. Returns customers planned."""
    return sum(len(customers)
               for day, reps in reps_due_for_plans(session, now, team).items()
               for customers in plan_day(session, day, reps, team, now).values())


def replace_planned_call(session: Session, planned_call: PlannedCall, reason: str,
                         team: TeamSettings, now: datetime) -> PlannedCall | None:
    """Mark a planned call skipped or wrong number and add its one replacement (idempotent)."""
    if reason not in ("skipped", "wrong_number"):
        raise ValueError(f"unknown reason {reason!r}")
    existing = session.scalar(select(PlannedCall).where(
        PlannedCall.replacement_for_id == planned_call.id))
    if existing is not None:
        return existing  # a second click: still one replacement
    if planned_call.status != "open":
        # A logged call has used its slot; only an untouched one may be swapped.
        raise OutreachError("this call was already logged, so it cannot be skipped")
    planned_call.status = reason
    rep = session.get(Rep, planned_call.rep_id)
    assert rep is not None
    cutoff = now - timedelta(days=team.referral_cooldown_days)
    picks = allocate({rep.id: 1}, *_candidates(session, planned_call.plan_date, cutoff, [rep.id]),
                     planned_call.plan_date)
    if not picks.get(rep.id):
        return None  # nobody left to call today
    position = session.scalar(select(func.max(PlannedCall.position)).where(
        PlannedCall.rep_id == rep.id, PlannedCall.plan_date == planned_call.plan_date)) or 0
    replacement = PlannedCall(plan_date=planned_call.plan_date, rep_id=rep.id,
                              customer_id=picks[rep.id][0], position=position + 1, status="open",
                              replacement_for_id=planned_call.id, created_at=now)
    session.add(replacement)
    session.flush()
    return replacement


def visible_plan(session: Session, viewer: Viewer, rep_id: int,
                 day: date) -> list[tuple[PlannedCall, Customer]]:
    """A day's list as a page may show it: a rep only their own, a manager anyone's."""
    check_rep(viewer, rep_id)
    rep = session.get(Rep, rep_id)
    return todays_plan(session, rep, day) if rep is not None else []


def todays_plan(session: Session, rep: Rep, day: date) -> list[tuple[PlannedCall, Customer]]:
    return list(session.execute(
        select(PlannedCall, Customer).join(Customer, Customer.id == PlannedCall.customer_id)
        .where(and_(PlannedCall.rep_id == rep.id, PlannedCall.plan_date == day))
        .order_by(PlannedCall.position)
    ).all())


def plan_and_describe(db: Database, now: datetime, *, day: date | None = None,
                      rep_email: str | None = None) -> list[str]:
    """Build the plans (for ``day``, default each rep's today) and describe them for people."""
    from outreach.runtime import team_settings  # runtime imports the worker's modules

    with db.session() as session, session.begin():
        team = team_settings(session)
        query = select(Rep).where(Rep.active.is_(True)).order_by(Rep.name)
        if rep_email:
            query = query.where(Rep.email == rep_email.strip().lower())
        reps = list(session.scalars(query))
        if rep_email and not reps:
            raise OutreachError(f"no active rep with e-mail {rep_email} on the Reps tab")
        days = {rep.id: day or local_day(now, rep) for rep in reps}
        by_day: dict[date, list[Rep]] = defaultdict(list)
        for rep in reps:
            by_day[days[rep.id]].append(rep)
        for rep_day, same_day in by_day.items():  # reps of one day share the pool fairly
            plan_day(session, rep_day, same_day, team, now)
        calendar = WorkCalendar(team)
        return [line for rep in reps for line in _describe(session, rep, days[rep.id], calendar, team)]


def _describe(session: Session, rep: Rep, day: date, calendar: WorkCalendar,
              team: TeamSettings) -> list[str]:
    head = f"{rep.name} <{rep.email}>, {day:%A %Y-%m-%d} ({rep.time_zone})"
    if rep.daily_calls == 0:
        return [f"{head}: no daily calls"]
    if not calendar.is_workday(day):
        reason = calendar.holiday_name(day) or "not a workday"
        return [f"{head}: {reason}, no calls"]
    plan = todays_plan(session, rep, day)
    if not plan:
        return [f"{head}: nobody left to call (everyone was asked recently or is on another list)"]
    lines = [f"{head}: {len(plan)} call{'s' if len(plan) != 1 else ''}"]
    for planned, customer in plan:
        asked = (f"last asked {customer.last_asked_at:%Y-%m-%d}" if customer.last_asked_at
                 else "never asked")
        status = "" if planned.status == "open" else f" [{planned.status.replace('_', ' ')}]"
        lines.append(f"  {planned.position}. {customer.full_name} · {customer.company or '-'} · "
                     f"{display(customer.phone, team.phone_region)} · {asked}{status}")
    return lines
