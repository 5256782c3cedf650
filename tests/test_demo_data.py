"""The demo workbook is reproducible, realistic, and deliberately a little messy."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import func, select

from outreach.db import Database
from outreach.demo_data import build_workbook, committed_demo_workbook
from outreach.demo_history import play_history
from outreach.models import Call, LeadEvent, OutboxMessage, Rep
from outreach.runtime import Runtime, team_settings
from outreach.sheet.sheet_source import WorkbookSource
from outreach.sheet.sync import read_snapshot, run_sync
from outreach.team.metrics import Filters, team_report
from outreach.team_settings import TeamSettings
from tests.factories import add_customer, add_rep

TABS = ["Customers", "Reps", "Settings", "Inbound"]


def cells(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(path, read_only=True)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


def test_generating_twice_gives_the_same_rows(tmp_path: Path) -> None:
    first = build_workbook(tmp_path / "a.xlsx")
    second = build_workbook(tmp_path / "b.xlsx")
    assert cells(first) == cells(second)


def test_committed_workbook_is_what_the_script_generates(tmp_path: Path) -> None:
    assert cells(committed_demo_workbook()) == cells(build_workbook(tmp_path / "fresh.xlsx"))


def test_demo_team_spans_two_time_zones_with_one_manager() -> None:
    snapshot = read_snapshot(WorkbookSource(committed_demo_workbook()).read_tabs(TABS))
    managers = [r for r in snapshot.reps if r.role == "manager"]
    reps = [r for r in snapshot.reps if r.role == "rep"]
    assert len(managers) == 1 and len(reps) == 4
    assert {r.time_zone for r in reps} == {"America/New_York", "America/Los_Angeles"}
    assert all(r.manager_email == managers[0].email for r in reps)


def test_demo_customers_are_about_200_with_messy_rows_explained() -> None:
    snapshot = read_snapshot(WorkbookSource(committed_demo_workbook()).read_tabs(TABS))
    customers = snapshot.customers.records
    assert 180 <= len(customers) <= 200
    assert sum(c.do_not_call for c in customers) >= 3
    assert any(c.phone and c.phone.startswith("+44") for c in customers)
    assert any(c.phone is None for c in customers)
    assert any(c.extra.get("Industry") for c in customers)
    skipped = {p.column for p in snapshot.problems if p.skipped}
    kept = {p.column for p in snapshot.problems if not p.skipped}
    assert skipped >= {"First Name", "Phone", "Customer ID"}
    assert kept >= {"Owner", "Email", "Phone"}  # an owner typo, a broken e-mail or phone keeps the customer


def test_the_demo_history_gives_the_team_page_a_believable_past(runtime: Runtime) -> None:
    now = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # Monday afternoon in New York
    assert run_sync(runtime.db, runtime.source(), now).ok
    with runtime.db.session() as session, session.begin():
        team = team_settings(session)
        counts = play_history(session, now, team)
        assert play_history(session, now, team) == {}  # never twice, never over a real past
    with runtime.db.session() as session:
        report = team_report(session, Filters(date(2026, 10, 26), date(2026, 11, 22)), now, team)
        pending = session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.status != "sent", OutboxMessage.created_at < now))
        last = session.scalar(select(func.max(LeadEvent.created_at)))
    assert counts["calls"] > 150 and counts["leads"] > 40
    totals = report.totals
    assert 0.7 < totals.quota_met < 1  # a good habit, not a perfect one
    assert 0 < totals.share_within(5) < 0.6 and report.unreached > 0 and totals.excuses > 0
    assert pending == 0  # the past's e-mails are history, not a backlog to send now
    assert last <= now  # nothing was logged in the future


def test_syncing_the_demo_history_twice_writes_the_sheet_once(runtime: Runtime) -> None:
    """Team Summary's numbers (4.0 minutes, 0.5 per ask) read back as the sheet shows them."""
    now = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    assert run_sync(runtime.db, runtime.source(), now).ok
    with runtime.db.session() as session, session.begin():
        play_history(session, now, team_settings(session))
    first = run_sync(runtime.db, runtime.source(), now)
    assert "Team Summary" in first.written_tabs
    assert run_sync(runtime.db, runtime.source(), now).written_tabs == []


def test_a_real_team_never_gets_an_invented_past(database: Database) -> None:
    with database.session() as session, session.begin():
        add_rep(session, "real.rep@acme.test")
        add_customer(session, "Real Customer")
        assert play_history(session, datetime(2026, 11, 23, 19, 0, tzinfo=UTC), TeamSettings()) == {}
        assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_the_history_leaves_todays_real_alerts_to_be_sent(runtime: Runtime) -> None:
    now = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    assert run_sync(runtime.db, runtime.source(), now).ok  # the demo's two inbound leads
    with runtime.db.session() as session, session.begin():
        play_history(session, now + timedelta(seconds=1), team_settings(session))
    with runtime.db.session() as session:
        pending = session.scalars(select(OutboxMessage.key).where(OutboxMessage.status == "pending")).all()
    assert len(pending) == 2 and all(key.startswith("alert:") for key in pending)


def test_a_first_run_at_two_in_the_morning_sends_only_alerts_until_the_opening(
        sqlite_runtime: Runtime) -> None:
    """`make run` at 02:16 in New York on the demo: its history left leads never followed up."""
    import time_machine

    from outreach import clock
    from outreach.worker import Worker

    night = datetime(2026, 11, 24, 7, 16, tzinfo=UTC)  # Tuesday 02:16 in New York
    runtime = sqlite_runtime
    assert run_sync(runtime.db, runtime.source(), night).ok
    with runtime.db.session() as session, session.begin():
        assert play_history(session, night, team_settings(session))
    worker = Worker(runtime, holder="first-run")
    with time_machine.travel(night, tick=False) as traveller:
        while clock.now() < datetime(2026, 11, 24, 16, 30, tzinfo=UTC):  # 08:30 in Los Angeles
            worker.run_once()
            traveller.shift(timedelta(minutes=15))
    with runtime.db.session() as session:
        zones = {email: ZoneInfo(zone) for email, zone in session.execute(select(Rep.email, Rep.time_zone))}
        rows = session.execute(select(OutboxMessage.kind, OutboxMessage.to_email, OutboxMessage.sent_at)
                               .where(OutboxMessage.created_at >= night, OutboxMessage.status == "sent")
                               .order_by(OutboxMessage.sent_at)).all()
    before_seven = {kind for kind, to, at in rows if at.astimezone(zones[to]).hour < 7}
    assert before_seven == {"alert"}  # the demo's two inbound leads, at once; nothing else at night
    nags = [(to.split("@")[0], at.astimezone(zones[to])) for kind, to, at in rows
            if kind in ("reminder", "escalation")]
    assert all(local.hour >= 8 for _, local in nags)
    # Each person's opening brings one e-mail with everything, never a pile.
    assert Counter(who for who, local in nags if local.hour == 8) == {
        "jordan.rivera": 1, "priya.patel": 1, "sam.okafor": 1, "alex.kim": 1, "maya.chen": 1}
    assert len(set(nags)) == len(nags)  # and never two to one person in the same run
