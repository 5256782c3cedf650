"""bench/plan.py: a full day's call plans for 1,000,000 customers and 10,000 reps.

Target (issue 4): <= 10 s and <= 2 GiB on the 2-core CI machine. The database is
built once (not timed) and copied for each measurement, which runs in a fresh
process so its peak memory is its own.

    .venv/bin/python -m bench.plan [--customers 1000000] [--reps 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.common import Stopwatch, medians, peak_rss_mib, report, run_in_subprocess, save

DAY = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 11, 45, tzinfo=UTC)  # 06:45 in New York: plan time


def build(path: Path, customers: int, reps: int) -> None:
    from sqlalchemy import insert

    from outreach.db import Database, migrate
    from outreach.models import Customer, Rep

    db = Database(f"sqlite:///{path}")
    migrate(db)
    rng = random.Random(7)
    with db.session() as session, session.begin():
        session.execute(insert(Rep.__table__), [
            {"email": f"rep{n}@example.com", "name": f"Rep {n}", "time_zone": "America/New_York",
             "daily_calls": 3, "active": True, "role": "rep", "in_sheet": True, "updated_at": NOW}
            for n in range(reps)])
        batch = []
        for n in range(customers):
            asked = NOW - timedelta(days=rng.randint(1, 700)) if rng.random() < 0.2 else None
            batch.append({
                "key": f"id:{n}", "first_name": f"F{n}", "last_name": "L", "company": "",
                "phone": f"+1212{n:07d}", "owner_email": f"rep{rng.randrange(reps)}@example.com"
                if rng.random() < 0.7 else None, "do_not_call": rng.random() < 0.01,
                "notes": "", "extra": {}, "active": True, "content_hash": "", "last_asked_at": asked,
                "created_at": NOW, "updated_at": NOW})
            if len(batch) == 50_000:
                session.execute(insert(Customer.__table__), batch)
                batch = []
        if batch:
            session.execute(insert(Customer.__table__), batch)
    db.dispose()


def measure(db_path: str) -> dict[str, float]:
    from outreach.calls.planner import build_due_plans
    from outreach.db import Database
    from outreach.runtime import team_settings

    db = Database(f"sqlite:///{db_path}")
    with Stopwatch() as watch, db.session() as session, session.begin():
        planned = build_due_plans(session, NOW, team_settings(session))
    return {"seconds": watch.seconds, "customers_planned": planned, "peak_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", metavar="DB_PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        print(f"building {args.customers:,} customers and {args.reps:,} reps (not timed)...")
        build(template, args.customers, args.reps)
        runs = []
        for n in range(args.repeat):
            copy = Path(tmp) / f"run{n}.db"
            shutil.copyfile(template, copy)
            runs.append(run_in_subprocess("bench.plan", "--measure", str(copy)))
            copy.unlink()
    result = medians(runs)
    report(f"a day's plans: {args.customers:,} customers, {args.reps:,} reps "
           f"(median of {args.repeat}, SQLite)", [
        ("seconds", result["seconds"], "target <= 10"),
        ("peak MiB", result["peak_mib"], "target <= 2048"),
        ("customers planned", result["customers_planned"], f"{args.reps * 3:,} expected"),
    ])
    save("plan", {"customers": args.customers, "reps": args.reps, "repeat": args.repeat, **result})


if __name__ == "__main__":
    main()
