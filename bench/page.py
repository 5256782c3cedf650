"""bench/page.py: server-side render time of the app's pages on a large database.

- rep page: 100,000 customers and 20,000 leads in the database (issue 5: <= 300 ms median);
- Leads page on the same database, every status and a search, as the manager and as a rep
  (issue 13: <= 300 ms median);
- manager's Team page: 12 months of history for 200 reps (issue 7: <= 1 s median), with the
  default 30-day range and with the whole year selected.

Each render is a full run of the real page script through Streamlit's AppTest (no
browser), measured after a warm-up run, on a SQLite database built once (not timed).

    .venv/bin/python -m bench.page [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import report, save, team_rows

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday, 11:00 in New York
REPS = 20


def build_rep_scenario(path: Path, customers: int = 100_000, leads: int = 20_000) -> None:
    from sqlalchemy import insert

    from outreach.calls.planner import build_due_plans
    from outreach.db import Database, migrate
    from outreach.models import Customer, Lead, LeadEvent, Rep
    from outreach.runtime import team_settings

    db = Database(f"sqlite:///{path}")
    migrate(db)
    rng = random.Random(11)
    with db.session() as session, session.begin():
        session.execute(insert(Rep.__table__), team_rows(REPS, NOW))
        session.execute(insert(Customer.__table__), [{
            "key": f"id:{n}", "first_name": f"First{n}", "last_name": f"Last{n}", "company": f"Co {n}",
            "phone": f"+1212{n:07d}", "email": f"c{n}@example.org",
            "owner_email": f"rep{n % REPS}@example.com" if n % 3 else None, "do_not_call": False,
            "notes": "note", "extra": {"Industry": "Dental"}, "active": True, "content_hash": "",
            "created_at": NOW, "updated_at": NOW} for n in range(customers)])
        rows = []
        for n in range(leads):
            created = NOW - timedelta(minutes=rng.randint(1, 60 * 24 * 365))
            open_ = rng.random() < 0.05  # most leads were followed up long ago
            rows.append({
                "kind": rng.choice(("referral", "referral", "inbound", "concern")),
                "status": rng.choice(("new", "attempted")) if open_ else rng.choice(
                    ("connected", "appointment", "won", "lost")),
                "owner_id": 1 + n % REPS, "first_name": f"Lead{n}", "last_name": "Person",
                "phone": f"+1617{n:07d}", "relationship": "", "need": "help", "best_time": "",
                "heard_about": "", "created_at": created, "attempts": rng.randint(0, 3),
                "reminders_sent": 0, "referring_customer_id": 1 + n % customers,
                "next_reminder_at": created + timedelta(hours=4) if open_ else None,
                "first_contact_at": None if open_ else created + timedelta(minutes=rng.randint(1, 600))})
        session.execute(insert(Lead.__table__), rows)
        session.execute(insert(LeadEvent.__table__), [
            {"lead_id": 1 + n, "rep_id": 1 + n % REPS, "outcome": "voicemail", "next_step": "",
             "note": "", "created_at": NOW - timedelta(days=1)} for n in range(0, leads, 2)])
        build_due_plans(session, NOW, team_settings(session))
    db.dispose()


def build_team_scenario(path: Path, reps: int = 200, days: int = 365) -> dict[str, int]:
    """A year of a 200-rep team's habits: 3 calls a day, half connect, referrals and follow-ups."""
    from sqlalchemy import insert

    from outreach.business_hours import WorkCalendar
    from outreach.db import Database, migrate
    from outreach.models import Call, Customer, Lead, LeadEvent, PlannedCall, Rep
    from outreach.team_settings import TeamSettings

    db = Database(f"sqlite:///{path}")
    migrate(db)
    rng = random.Random(7)
    calendar = WorkCalendar(TeamSettings())
    today = NOW.date()
    workdays = [d for d in (today - timedelta(days=n) for n in range(days)) if calendar.is_workday(d)]
    customers = reps * 3 * len(workdays) // 4  # each customer is asked about four times a year
    counts = dict.fromkeys(("planned", "calls", "leads", "events"), 0)
    with db.session() as session, session.begin():
        session.execute(insert(Rep.__table__), team_rows(reps, NOW))
        session.execute(insert(Customer.__table__), [{
            "id": n + 1, "key": f"id:{n}", "first_name": f"First{n}", "last_name": f"Last{n}",
            "company": f"Co {n}", "phone": f"+1212{n:07d}", "owner_email": None, "do_not_call": False,
            "notes": "", "extra": {}, "active": True, "content_hash": "", "created_at": NOW,
            "updated_at": NOW} for n in range(customers)])
        planned, calls, leads, events = [], [], [], []
        pick = iter(range(10**9))
        for day in workdays:
            opening = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=14)
            for rep in range(1, reps + 1):
                for position in range(3):
                    number = next(pick)
                    customer = 1 + number % customers
                    done = rng.random() < 0.8  # the habit is not perfect
                    planned.append({"id": number + 1, "plan_date": day, "rep_id": rep,
                                    "customer_id": customer, "position": position,
                                    "status": "done" if done else "open", "created_at": opening})
                    if not done:
                        continue
                    at = opening + timedelta(minutes=rng.randint(0, 480))
                    outcome = rng.choice(("connected", "connected", "voicemail", "no_answer",
                                          "wrong_number"))
                    calls.append({"id": number + 1, "rep_id": rep, "customer_id": customer,
                                  "planned_call_id": number + 1, "outcome": outcome, "liked_best": "",
                                  "do_better": "", "concern": False, "created_at": at,
                                  "client_token": f"t{number}"})
                    if outcome == "connected" and rng.random() < 0.5:
                        lead_id = len(leads) + 1
                        wait = rng.choice((2, 4, 9, 30, 240, None))
                        contacted = at + timedelta(minutes=wait) if wait else None
                        status = "won" if wait and rng.random() < 0.2 else (
                            "connected" if wait else "attempted")
                        leads.append({"id": lead_id, "kind": "referral", "status": status,
                                      "owner_id": rep, "first_name": f"Lead{lead_id}",
                                      "last_name": "Person", "phone": f"+1617{lead_id:07d}",
                                      "relationship": "", "need": "", "best_time": "", "heard_about": "",
                                      "referring_customer_id": customer, "call_id": number + 1,
                                      "created_at": at, "first_contact_at": contacted,
                                      "attempts": 1, "reminders_sent": 0,
                                      "next_reminder_at": None if wait else at + timedelta(days=1)})
                        events.append({"lead_id": lead_id, "rep_id": rep, "outcome": "voicemail",
                                       "next_step": "", "note": "", "created_at": at + timedelta(minutes=1)})
                        if contacted:
                            events.append({"lead_id": lead_id, "rep_id": rep, "outcome": "connected",
                                           "next_step": "", "note": "", "created_at": contacted})
        for table, rows in ((PlannedCall, planned), (Call, calls), (Lead, leads), (LeadEvent, events)):
            session.execute(insert(table.__table__), rows)
        counts.update(planned=len(planned), calls=len(calls), leads=len(leads), events=len(events))
    db.dispose()
    return counts


def time_page(db_path: Path, page: str | None, viewer: str, runs: int,
              widgets: list[tuple[str, str, object]] | None = None) -> list[float]:
    """Median-ready render times of ``page`` as ``viewer``, after setting ``widgets`` (kind, key, value)."""
    import streamlit as st
    import time_machine
    from streamlit.testing.v1 import AppTest

    from outreach.settings import PROJECT_ROOT

    os.environ.update({"OUTREACH_DATABASE_URL": f"sqlite:///{db_path}",
                       "OUTREACH_RUN_WORKER_IN_APP": "false",
                       "OUTREACH_SECRETS_FILE": str(db_path.parent / "none.toml")})
    st.cache_resource.clear()
    with time_machine.travel(NOW, tick=True):
        at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
        at.run()
        at.selectbox(key="demo_rep").set_value(viewer).run()
        if page:
            at.switch_page(f"outreach/ui/pages/{page}").run()
        for kind, key, value in widgets or []:
            getattr(at, kind)(key=key).set_value(value).run()
        assert not at.exception, at.exception
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            assert not at.exception, at.exception
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--team-only", action="store_true", help="skip the rep page (a quicker run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "page.db"
        rep_times = leads_times = rep_leads_times = [float("nan")]
        if not args.team_only:
            print("building 100,000 customers and 20,000 leads (not timed)...")
            build_rep_scenario(db_path)
            rep_times = time_page(db_path, None, "rep0@example.com", args.runs)
            from outreach.leads.lead_life import FILTER_LABELS

            # The manager searches all 20,000 leads, every status; a rep their own 1,000.
            every_status = [("multiselect", "leads_status", list(FILTER_LABELS))]
            leads_times = time_page(db_path, "leads.py", "boss@example.com", args.runs,
                                    [*every_status, ("text_input", "leads_search", "lead1")])
            rep_leads_times = time_page(db_path, "leads.py", "rep0@example.com", args.runs,
                                        [*every_status, ("text_input", "leads_search", "617")])
        team_path = Path(tmp) / "team.db"
        print("building 12 months of history for 200 reps (not timed)...")
        counts = build_team_scenario(team_path)
        print("  " + ", ".join(f"{n:,} {what}" for what, n in counts.items()))
        month_times = time_page(team_path, "team.py", "boss@example.com", args.runs)
        year = (NOW.date() - timedelta(days=364), NOW.date())
        year_times = time_page(team_path, "team.py", "boss@example.com", args.runs,
                               [("date_input", "team_dates", year)])
    timings = (rep_times, leads_times, rep_leads_times, month_times, year_times)
    rep_ms, leads_ms, rep_leads_ms, month_ms, year_ms = (statistics.median(t) * 1000 for t in timings)
    report(f"page render, server side (median of {args.runs} runs, SQLite)", [
        ("rep page, 100k customers / 20k leads: ms", rep_ms, "target <= 300"),
        ("Leads page, manager, 20k leads, every status, a search: ms", leads_ms, "target <= 300"),
        ("Leads page, a rep's 1,000 leads, every status, a search: ms", rep_leads_ms, "target <= 300"),
        ("Team page, 200 reps, last 30 days: ms", month_ms, "target <= 1000"),
        ("Team page, 200 reps, whole year: ms", year_ms, "target <= 1000"),
    ])
    save("page", {"runs": args.runs, "rep_page_ms": rep_ms, "leads_page_manager_ms": leads_ms,
                  "leads_page_rep_ms": rep_leads_ms, "team_page_30_days_ms": month_ms,
                  "team_page_year_ms": year_ms, "team_history": counts,
                  "rep_page_p90_ms": sorted(rep_times)[int(0.9 * len(rep_times))] * 1000})


if __name__ == "__main__":
    main()
