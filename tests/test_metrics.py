"""The manager's numbers, on small hand-built histories whose right answers are known.

One week in New York: Alice calls and asks, Bob never picks up the phone, and
their leads are reached fast, slowly, out of hours, or never.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from outreach.access import NotAllowed, Viewer
from outreach.db import Database
from outreach.models import Call, Lead, LeadEvent, PlannedCall, Rep
from outreach.sheet.write_back import TEAM_SUMMARY_TAB, tables_to_write
from outreach.team.metrics import Filters, TeamReport, report_for, summary_rows, team_report
from outreach.team_settings import TeamSettings
from tests.factories import add_customer, add_lead, add_rep

MONDAY = date(2026, 11, 16)
NOW = datetime(2026, 11, 16, 17, 0, tzinfo=UTC)  # Monday 12:00 in New York
TEAM = TeamSettings()  # New York, first reminder after 5 minutes


def ny(day: date, hour: int, minute: int = 0) -> datetime:
    """A New York wall-clock time in November (UTC-5) as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


_tokens = itertools.count()


@dataclass
class History:
    db: Database
    alice: Rep
    bob: Rep
    boss: Rep

    def report(self, *, start: date = MONDAY, end: date = MONDAY, reps: set[int] | None = None,
               now: datetime = NOW, team: TeamSettings = TEAM) -> TeamReport:
        with self.db.session() as session:
            filters = Filters(start, end, frozenset(reps) if reps is not None else None)
            return team_report(session, filters, now, team)

    def row(self, report: TeamReport, rep: Rep):  # type: ignore[no-untyped-def]
        (found,) = [r for r in report.reps if r.rep_id == rep.id]
        return found


def plan(session: Session, rep: Rep, day: date, statuses: list[str]) -> list[PlannedCall]:
    """A day's list; a 'skipped' slot is followed by its replacement (the next entry)."""
    calls: list[PlannedCall] = []
    for position, status in enumerate(statuses):
        customer = add_customer(session, f"Cust{rep.id}x{day.day}x{position} Person")
        replaces = calls[-1].id if calls and calls[-1].status == "skipped" else None
        planned = PlannedCall(plan_date=day, rep_id=rep.id, customer_id=customer.id, position=position,
                              status=status, replacement_for_id=replaces, created_at=ny(day, 6, 30))
        session.add(planned)
        session.flush()
        calls.append(planned)
    return calls


def call(session: Session, planned: PlannedCall, outcome: str, at: datetime) -> Call:
    logged = Call(rep_id=planned.rep_id, customer_id=planned.customer_id, planned_call_id=planned.id,
                  outcome=outcome, created_at=at, client_token=f"t{next(_tokens)}")
    session.add(logged)
    session.flush()
    return logged


def followup(session: Session, lead: Lead, rep: Rep, outcome: str, at: datetime) -> None:
    session.add(LeadEvent(lead_id=lead.id, rep_id=rep.id, outcome=outcome, created_at=at))
    if outcome == "connected":
        lead.first_contact_at = lead.first_contact_at or at
        lead.status = "connected"
    else:
        lead.attempts += 1
        lead.status = "attempted"


@pytest.fixture
def history(database: Database) -> Iterator[History]:
    with database.session() as session, session.begin():
        boss = add_rep(session, "boss@example.com", role="manager", daily_calls=0, name="Boss")
        alice = add_rep(session, "alice@example.com", manager=boss.email, name="Alice")
        bob = add_rep(session, "bob@example.com", manager=boss.email, name="Bob")
        # Alice: three slots; the second customer was skipped and replaced by one she called.
        first, _skipped, replacement, _open = plan(session, alice, MONDAY,
                                                  ["done", "skipped", "done", "open"])
        asked = call(session, first, "connected", ny(MONDAY, 9))
        call(session, replacement, "voicemail", ny(MONDAY, 9, 30))
        fast = add_lead(session, alice, "Fast Reached", created_at=ny(MONDAY, 9), call_id=asked.id,
                        referring_customer_id=first.customer_id)
        slow = add_lead(session, alice, "Slow Reached", created_at=ny(MONDAY, 9), call_id=asked.id,
                        referring_customer_id=first.customer_id)
        followup(session, fast, alice, "connected", ny(MONDAY, 9, 3))
        followup(session, slow, alice, "voicemail", ny(MONDAY, 9, 5))
        followup(session, slow, alice, "connected", ny(MONDAY, 9, 10))
        slow.status = "won"
        # Bob: three slots, no calls; one inbound lead never reached, one that just arrived.
        plan(session, bob, MONDAY, ["open", "open", "open"])
        add_lead(session, bob, "Never Reached", kind="inbound", created_at=ny(MONDAY, 9), attempts=2)
        add_lead(session, bob, "Just Arrived", kind="inbound", created_at=NOW - timedelta(minutes=2))
        followup(session, session.query(Lead).filter_by(first_name="Never").one(), bob, "no_answer",
                 ny(MONDAY, 9, 20))
        add_lead(session, bob, "Dup Licate", kind="inbound", created_at=ny(MONDAY, 9), status="duplicate")
    yield History(database, alice, bob, boss)


def test_calls_planned_count_quota_slots_and_a_replacement_fills_its_slot(history: History) -> None:
    report = history.report()
    alice, bob = history.row(report, history.alice), history.row(report, history.bob)
    assert (alice.calls_planned, alice.calls_done, alice.shortfall) == (3, 2, 1)
    assert (bob.calls_planned, bob.calls_done, bob.quota_met) == (3, 0, 0.0)
    assert report.daily == [report.daily[0]] and (report.daily[0].quota, report.daily[0].done) == (6, 2)


def test_asks_conversations_referrals_and_excuses(history: History) -> None:
    alice = history.row(history.report(), history.alice)
    assert alice.referral_asks == 1  # one connected customer call
    assert alice.conversations == 3  # that call and two leads reached
    assert (alice.referrals, alice.referrals_per_ask) == (2, 2.0)
    assert (alice.voicemail, alice.no_answer, alice.wrong_number) == (2, 0, 0)
    assert (alice.excuses, alice.tries) == (2, 5)


def test_a_rep_with_no_calls_shows_zeros_not_gaps(history: History) -> None:
    bob = history.row(history.report(), history.bob)
    assert (bob.referral_asks, bob.conversations, bob.referrals, bob.referrals_per_ask) == (0, 0, 0, None)
    assert bob.no_answer == 1 and bob.median_minutes is None


def test_speed_to_lead_counts_waiting_leads_as_missed_once_past_the_mark(history: History) -> None:
    report = history.report()
    alice, bob = history.row(report, history.alice), history.row(report, history.bob)
    assert alice.speed_minutes == [3.0, 10.0] and alice.median_minutes == 6.5
    assert (alice.share_within(5), alice.share_within(15)) == (0.5, 1.0)
    # Bob: one lead waiting three hours (missed), one two minutes old (not yet decided).
    assert bob.leads_owned == 2  # the duplicate does not count
    assert (bob.share_within(5), bob.share_within(15)) == (0.0, 0.0)
    assert (bob.decided[5], bob.decided[15]) == (1, 1)
    assert report.unreached == 2 and sorted(report.speed_minutes) == [3.0, 10.0]


def test_a_lead_reached_out_of_hours_counts_by_the_wall_clock(history: History) -> None:
    saturday = MONDAY + timedelta(days=5)
    with history.db.session() as session, session.begin():
        alice = session.get(Rep, history.alice.id)
        night = add_lead(session, alice, "Night Owl", kind="inbound", created_at=ny(saturday, 22))
        followup(session, night, alice, "connected", ny(saturday, 22, 4))
        weekend = add_lead(session, alice, "Friday Evening", kind="inbound",
                           created_at=ny(saturday - timedelta(days=1), 19))
        followup(session, weekend, alice, "connected", ny(saturday + timedelta(days=2), 8, 5))
    later = ny(saturday + timedelta(days=2), 12)
    row = history.row(history.report(start=saturday - timedelta(days=1), end=saturday, now=later),
                      history.alice)
    assert sorted(row.speed_minutes) == [4.0, 61 * 60 + 5.0] and row.share_within(5) == 0.5


def test_overdue_leads_are_the_open_ones_past_the_first_reminder_oldest_first(history: History) -> None:
    report = history.report()
    assert [o.name for o in report.overdue] == ["Never Reached"]
    (never,) = report.overdue
    assert (never.owner_name, never.attempts, never.age_minutes) == ("Bob", 3, 180.0)
    bob = history.row(report, history.bob)
    assert (bob.open_leads, bob.overdue_leads) == (2, 1)
    assert report.value_at_risk is None
    rich = history.report(team=replace(TEAM, average_deal_value=Decimal("2500")))
    assert rich.value_at_risk == Decimal("2500")


def test_the_funnel_follows_referrals_from_the_ask_to_the_deal(history: History) -> None:
    funnel = history.report().funnel
    assert (funnel.customers_called, funnel.conversations, funnel.referrals, funnel.leads_reached,
            funnel.appointments_or_won) == (2, 1, 2, 2, 1)


def test_filters_by_rep_and_by_dates_in_the_team_zone(history: History) -> None:
    only_bob = history.report(reps={history.bob.id})
    assert [r.name for r in only_bob.reps] == ["Bob"] and only_bob.funnel.customers_called == 0
    tuesday = history.report(start=MONDAY + timedelta(days=1), end=MONDAY + timedelta(days=1))
    assert history.row(tuesday, history.alice).calls_planned == 0
    # Open and overdue leads are "right now", whatever the dates.
    assert [o.name for o in tuesday.overdue] == ["Never Reached"]
    # The manager has no quota and no activity: no row.
    assert history.boss.id not in {r.rep_id for r in history.report().reps}


def test_team_summary_tab_is_the_same_table_written_raw(history: History) -> None:
    with history.db.session() as session:
        tables = tables_to_write(session, TEAM, {}, NOW)
        report = team_report(session, Filters(MONDAY - timedelta(days=29), MONDAY), NOW, TEAM)
    header, *rows = tables[TEAM_SUMMARY_TAB]
    expected = summary_rows(report)
    assert header[:-1] == list(expected[0]) and header[-1] == "Period"
    assert [row[:-1] for row in rows] == [["" if v is None else v for v in r.values()] for r in expected]
    assert rows[0][-1] == "2026-10-18 to 2026-11-16"
    # Nothing changed: nothing to write.
    with history.db.session() as session:
        assert TEAM_SUMMARY_TAB not in tables_to_write(session, TEAM, tables, NOW)


def test_a_rep_may_not_have_the_teams_numbers(history: History) -> None:
    with history.db.session() as session:
        filters = Filters(MONDAY, MONDAY)
        with pytest.raises(NotAllowed):
            report_for(session, Viewer.of(session.get(Rep, history.alice.id)), filters, NOW, TEAM)
        boss = Viewer.of(session.get(Rep, history.boss.id))
        assert {r.name for r in report_for(session, boss, filters, NOW, TEAM).reps} == {"Alice", "Bob"}
