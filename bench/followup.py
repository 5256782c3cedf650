"""bench/followup.py: the follow-up engine through the fake SendGrid.

- 10,000 due reminders across 200 reps: the worker's two jobs, ``nag`` (queue one e-mail
  per rep listing all their due leads) then ``mail`` (send them), as one tick of
  `python -m outreach worker` runs them: seconds, e-mails and HTTP requests made to
  SendGrid. Target (issue 11): <= 10 s on SQLite.
- save to 202: a referral saved the way the rep page saves it (one transaction, then
  ``deliver_now`` on a thread of its own) until the fake SendGrid accepts the alert:
  median and p99 over 50 saves. Target (issue 6): <= 5 s.

The fake SendGrid runs in a process of its own (its parsing and contract checks are not
ours) and answers at once; real SendGrid takes 100-300 ms, which adds to the latency and
divides the throughput of each sending thread. Each measurement runs in a fresh process on
a database built in it (not timed), under time-machine's clock on a Monday morning.

    .venv/bin/python -m bench.followup [--reminders 10000] [--saves 50] [--repeat 3]
                                       [--database sqlite|postgresql] [--sendgrid-latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Stopwatch, medians, peak_rss_mib, report, run_in_subprocess, save, team_rows

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday, 11:00 in New York: inside business hours
REPS = 200
POSTGRES_URL = os.environ.get("OUTREACH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def add_team(db, customers: int = 0) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import insert

    from outreach.models import Customer, Rep

    with db.session() as session, session.begin():
        session.execute(insert(Rep.__table__), team_rows(REPS, NOW))
        if customers:
            session.execute(insert(Customer.__table__), [{
                "key": f"id:{n}", "first_name": f"First{n}", "last_name": f"Last{n}", "company": "",
                "phone": f"+1212{n:07d}", "email": None, "owner_email": "rep0@example.com",
                "do_not_call": False, "notes": "", "extra": {}, "active": True, "content_hash": "",
                "created_at": NOW, "updated_at": NOW} for n in range(customers)])


def add_due_leads(db, count: int) -> None:  # type: ignore[no-untyped-def]
    """Leads three hours old (three reminders sent) whose next reminder was due a minute ago."""
    from sqlalchemy import insert, select

    from outreach.models import Lead, Rep

    with db.session() as session, session.begin():
        owners = list(session.scalars(select(Rep.id).where(Rep.role == "rep").order_by(Rep.id)))
        session.execute(insert(Lead.__table__), [{
            "kind": "referral", "status": "new", "owner_id": owners[n % len(owners)],
            "first_name": f"Lead{n}", "last_name": "Waiting", "phone": f"+1617{n:07d}",
            "email": None, "relationship": "", "need": "A quote", "best_time": "", "heard_about": "",
            "created_at": NOW - timedelta(hours=3), "attempts": 0, "reminders_sent": 3,
            "next_reminder_at": NOW - timedelta(minutes=1)} for n in range(count)])


def _serve_fake(conn, latency: float) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.sendgrid_server import FakeSendGrid

    with FakeSendGrid(latency=latency) as fake:
        conn.send((fake.host, fake.api_key))
        while conn.recv() == "report":
            keys = [m["personalizations"][0]["custom_args"]["outreach_key"] for m in fake.messages]
            conn.send({"requests": len(fake.requests), "keys": keys, "accepted_at": fake.accepted_at,
                       "violations": fake.contract_violations})


@contextmanager
def fake_sendgrid_process(latency: float) -> Iterator[tuple[str, str, Callable[[], dict[str, Any]]]]:
    """The fake SendGrid in a process of its own, so its work is not counted as ours.

    Yields its host, its API key and a function returning what it has received so far.
    """
    import multiprocessing

    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve_fake, args=(theirs, latency),
                                                               daemon=True)
    server.start()
    host, key = ours.recv()

    def received() -> dict[str, Any]:
        ours.send("report")
        return ours.recv()

    try:
        yield host, key, received
        assert received()["violations"] == []
    finally:
        ours.send("stop")
        server.join(10)


@contextmanager
def sendgrid_runtime(db_url: str, latency: float = 0.0) -> Iterator[tuple[Any, Callable[[], dict[str, Any]]]]:
    """A migrated database, a fake SendGrid, and a Runtime that sends to it."""
    from outreach.db import Database, migrate
    from outreach.runtime import Runtime
    from outreach.settings import load_settings

    with fake_sendgrid_process(latency) as (host, key, received), tempfile.TemporaryDirectory() as tmp:
        db = Database(db_url)  # after the fork: the fake's process holds no database connection
        migrate(db)
        settings = load_settings(environ={
            "OUTREACH_DATABASE_URL": db_url, "OUTREACH_WORKBOOK": str(Path(tmp) / "none.xlsx"),
            "SENDGRID_API_KEY": key, "OUTREACH_SENDGRID_HOST": host,
        }, secrets_path=Path(tmp) / "none.toml")
        yield Runtime(settings=settings, db=db), received
        db.dispose()


def measure_reminders(db_url: str, count: int, latency: float) -> dict[str, float]:
    import time_machine

    from outreach import clock
    from outreach.worker import deliver_mail, nag

    with sendgrid_runtime(db_url, latency) as (runtime, received), time_machine.travel(NOW, tick=True):
        add_team(runtime.db)
        add_due_leads(runtime.db, count)
        with Stopwatch() as queueing:
            queued = nag(runtime, clock.now())
        with Stopwatch() as sending:
            sent = deliver_mail(runtime, clock.now())
        fake = received()
        assert queued == sent == len(set(fake["keys"])) == min(count, REPS), (queued, sent, fake["keys"])
        assert reminded_leads(runtime.db) == count  # every due lead, in one of those e-mails
        seconds = queueing.seconds + sending.seconds
        return {"queue_seconds": queueing.seconds, "send_seconds": sending.seconds, "seconds": seconds,
                "requests": fake["requests"], "sent": sent, "leads_per_second": count / seconds,
                "peak_mib": peak_rss_mib()}


def reminded_leads(db) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from outreach.models import Lead, NagItem

    with db.session() as session:
        listed = session.scalar(select(func.count(func.distinct(NagItem.lead_id)))) or 0
        counted = session.scalar(select(func.count()).select_from(Lead).where(Lead.reminders_sent == 4))
    assert listed == counted, (listed, counted)
    return listed


def measure_latency(db_url: str, saves: int, latency: float) -> dict[str, float]:
    import time_machine
    from sqlalchemy import select

    from outreach import clock
    from outreach.access import Viewer
    from outreach.calls.calls import CallInput, ReferralInput, log_call
    from outreach.leads.followup import alert_key
    from outreach.models import Lead, PlannedCall, Rep
    from outreach.runtime import team_settings
    from outreach.worker import deliver_now

    with sendgrid_runtime(db_url, latency) as (runtime, received), time_machine.travel(NOW, tick=True):
        db = runtime.db
        add_team(db, customers=saves)
        with db.session() as session, session.begin():
            rep = session.scalar(select(Rep).where(Rep.email == "rep0@example.com"))
            session.add_all([PlannedCall(plan_date=NOW.date(), rep_id=rep.id, customer_id=n + 1,
                                         position=n, status="open", created_at=NOW)
                             for n in range(saves)])
            viewer = Viewer.of(rep)
        with db.session() as session:
            planned = list(session.scalars(select(PlannedCall.id).order_by(PlannedCall.id)))
        latencies = []
        for n, planned_id in enumerate(planned):
            form = CallInput(planned_call_id=planned_id, outcome="connected", client_token=f"form-{n}",
                             referrals=(ReferralInput(first_name=f"Friend{n}", last_name="Referred",
                                                      phone=f"(617) 555-{n:04d}"),))
            started = time.monotonic()
            with db.session() as session, session.begin():
                saved = log_call(session, viewer, form, team_settings(session), clock.now())
            with db.session() as session:
                keys = [alert_key(session.get(Lead, lead_id)) for lead_id in saved.lead_ids]
            sending = threading.Thread(target=deliver_now, args=(runtime, keys), daemon=True)
            sending.start()
            sending.join(10)  # the 202 came before this: the sender records it, then returns
            latencies.append(received()["accepted_at"][n] - started)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        return {"median_ms": statistics.median(latencies) * 1000, "p99_ms": cuts[98] * 1000,
                "max_ms": max(latencies) * 1000, "saves": saves}


@contextmanager
def database_url(kind: str) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema on the local PostgreSQL (dropped afterwards)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--sendgrid-latency", type=float, default=0.0, metavar="SECONDS",
                        help="how long the fake takes to answer (real SendGrid: about 0.1-0.3)")
    parser.add_argument("--measure", nargs=2, metavar=("WHAT", "DB_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        what, url = args.measure
        result = (measure_reminders(url, args.reminders, args.sendgrid_latency) if what == "reminders"
                  else measure_latency(url, args.saves, args.sendgrid_latency))
        print(json.dumps(result))
        return
    reminder_runs, latency_runs = [], []
    fake_args = ("--sendgrid-latency", str(args.sendgrid_latency))
    for _ in range(args.repeat):
        with database_url(args.database) as url:
            reminder_runs.append(run_in_subprocess("bench.followup", "--measure", "reminders", url,
                                                   "--reminders", str(args.reminders), *fake_args))
        with database_url(args.database) as url:
            latency_runs.append(run_in_subprocess("bench.followup", "--measure", "latency", url,
                                                  "--saves", str(args.saves), *fake_args))
    reminders, latency = medians(reminder_runs), medians(latency_runs)
    answers = (f"answering in {args.sendgrid_latency * 1000:.0f} ms" if args.sendgrid_latency
               else "answering at once")
    report(f"follow-up engine, fake SendGrid {answers} (median of {args.repeat}, {args.database})", [
        (f"{args.reminders:,} reminders, {REPS} reps: seconds", reminders["seconds"],
         "queue + send, one worker; target <= 10"),
        ("  of which queueing (nag)", reminders["queue_seconds"], ""),
        ("  of which sending (mail)", reminders["send_seconds"], ""),
        ("  e-mails sent", reminders["sent"], f"one per rep: {min(args.reminders, REPS)} expected"),
        ("  HTTP requests to SendGrid", reminders["requests"], ""),
        ("  leads reminded per second", reminders["leads_per_second"], ""),
        ("  peak MiB", reminders["peak_mib"], ""),
        (f"save to 202: median ms ({args.saves} saves)", latency["median_ms"], "target <= 5000"),
        ("save to 202: p99 ms", latency["p99_ms"], "target <= 5000"),
        ("save to 202: max ms", latency["max_ms"], ""),
    ])
    name = "followup" + (f"-{args.database}" if args.database != "sqlite" else "") + (
        f"-latency{args.sendgrid_latency:g}" if args.sendgrid_latency else "")
    save(name, {
        "reminders": args.reminders, "saves": args.saves, "repeat": args.repeat,
        "database": args.database, "sendgrid_latency": args.sendgrid_latency,
        "reminder_run": reminders, "latency": latency,
        "runs": {"reminders": reminder_runs, "latency": latency_runs},
        "python": sys.version.split()[0]})


if __name__ == "__main__":
    main()
