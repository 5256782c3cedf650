"""The worker finds its work in the database and only one scheduler acts at a time."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select, text

from outreach import clock, lease
from outreach.db import Database, migrate
from outreach.mail.outbox import Email, enqueue
from outreach.models import OutboxMessage, SyncRun
from outreach.runtime import Runtime
from outreach.settings import PROJECT_ROOT
from outreach.worker import LEASE_NAME, LEASE_TTL, Job, Worker, deliver_mail, sync_if_due
from tests.conftest import MONDAY_9AM_NY, make_settings
from tests.fakes.sendgrid_server import FakeSendGrid

TTL = timedelta(seconds=60)


def take(db: Database, holder: str, at) -> bool:  # type: ignore[no-untyped-def]
    with db.session() as session, session.begin():
        return lease.acquire(session, "scheduler", holder, at, TTL)


def test_only_one_holder_until_the_lease_expires(database: Database) -> None:
    now = MONDAY_9AM_NY
    assert take(database, "worker-a", now)
    assert not take(database, "worker-b", now + timedelta(seconds=30))
    assert take(database, "worker-a", now + timedelta(seconds=30))  # renewing is fine
    assert not take(database, "worker-b", now + timedelta(seconds=89))
    assert take(database, "worker-b", now + timedelta(seconds=91))  # a dead holder is replaced
    assert not take(database, "worker-a", now + timedelta(seconds=92))


def test_released_lease_is_free_at_once(database: Database) -> None:
    assert take(database, "worker-a", MONDAY_9AM_NY)
    with database.session() as session, session.begin():
        lease.release(session, "scheduler", "worker-a")
    assert take(database, "worker-b", MONDAY_9AM_NY + timedelta(seconds=1))


def sync_runs(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(SyncRun)) or 0


def test_sync_runs_when_due_by_the_database_not_by_memory(runtime: Runtime) -> None:
    with time_machine.travel(MONDAY_9AM_NY, tick=False) as traveller:
        assert Worker(runtime).run_once()["sync"] == 1
        traveller.shift(timedelta(seconds=30))
        # A brand-new worker (a restart) still knows the last sync was 30 s ago.
        assert Worker(runtime).run_once()["sync"] == 0
        traveller.shift(timedelta(seconds=31))
        assert Worker(runtime).run_once()["sync"] == 1
    assert sync_runs(runtime.db) == 2


def test_second_worker_stays_idle_while_the_first_holds_the_lease(runtime: Runtime) -> None:
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        first, second = Worker(runtime, holder="first"), Worker(runtime, holder="second")
        assert first.run_once()["sync"] == 1
        assert set(second.run_once().values()) == {0}
    with database_lease(runtime) as holder:
        assert holder == "first"


def database_lease(runtime: Runtime):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def holder():  # type: ignore[no-untyped-def]
        with runtime.db.session() as session:
            found = lease.last_heartbeat(session, LEASE_NAME)
            yield found[0] if found else None

    return holder()


def test_a_failing_job_does_not_stop_the_others(runtime: Runtime) -> None:
    def broken(_runtime: Runtime, _now) -> int:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    jobs = [Job("broken", 15, broken), Job("sync", 60, sync_if_due)]
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        assert Worker(runtime, jobs=jobs).run_once() == {"broken": 0, "sync": 1}


def test_a_job_longer_than_the_lease_keeps_it(runtime: Runtime) -> None:
    """The heartbeat renews the lease while a long sync runs; a second worker stays out."""
    ttl = timedelta(seconds=0.9)
    started, finish = threading.Event(), threading.Event()

    def long_sync(_runtime: Runtime, _now) -> int:  # type: ignore[no-untyped-def]
        started.set()
        finish.wait(10)
        return 1

    first = Worker(runtime, jobs=[Job("sync", 60, long_sync)], holder="first", lease_ttl=ttl)
    second = Worker(runtime, jobs=[], holder="second", lease_ttl=ttl)
    running = threading.Thread(target=first.run_once)
    running.start()
    started.wait(5)
    tries = []
    for _ in range(8):  # 2.4 s, more than twice the lease
        tries.append(second.holds_lease(clock.now()))
        time.sleep(0.3)
    finish.set()
    running.join()
    assert not any(tries)


def test_a_stoppable_job_stops_once_the_lease_is_lost(runtime: Runtime) -> None:
    steps = []

    def many_steps(_runtime: Runtime, _now, keep_going) -> int:  # type: ignore[no-untyped-def]
        while keep_going() and len(steps) < 100:
            steps.append(1)
            if len(steps) == 3:  # the lease runs out (a database outage kept the heartbeat away)
                traveller.shift(LEASE_TTL)
        return len(steps)

    with time_machine.travel(MONDAY_9AM_NY, tick=False) as traveller:
        done = Worker(runtime, jobs=[Job("long", 15, many_steps, stoppable=True)]).run_once()
    assert done == {"long": 3}


def mail_worker(runtime: Runtime) -> Worker:
    return Worker(runtime, jobs=[Job("mail", 5, deliver_mail, needs_lease=False, stoppable=True)])


def test_every_worker_sends_mail_even_without_the_lease(runtime: Runtime) -> None:
    with runtime.db.session() as session, session.begin():
        enqueue(session, Email("alert:1", "alert", "ann@example.com", "New lead", "Call.", "<p>Call.</p>"),
                MONDAY_9AM_NY)
    with time_machine.travel(MONDAY_9AM_NY, tick=False):
        assert take(runtime.db, "someone-else", MONDAY_9AM_NY)
        assert mail_worker(runtime).run_once() == {"mail": 1}


def test_an_unreachable_database_is_logged_without_secrets_and_the_worker_carries_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql://outreach:pa55-w0rd-secret@127.0.0.1:9/outreach"  # nothing listens on port 9
    runtime = Runtime(settings=make_settings(tmp_path, OUTREACH_DATABASE_URL=url), db=Database(url))
    worker = Worker(runtime)
    with caplog.at_level(logging.INFO):
        assert set(worker.run_once().values()) == {0}
        stop = threading.Event()
        loop = threading.Thread(target=worker.run_forever, args=(stop,))
        loop.start()
        time.sleep(1.5)
        assert loop.is_alive()  # the database error did not kill the worker's thread
        stop.set()
        loop.join(10)
    assert not loop.is_alive()
    assert "database is unavailable" in caplog.text and "tries again in" in caplog.text
    assert "pa55-w0rd-secret" not in caplog.text and "Traceback" not in caplog.text


def test_after_a_database_error_the_worker_backs_off_then_recovers(sqlite_runtime: Runtime) -> None:
    db = sqlite_runtime.db
    worker = Worker(sqlite_runtime, jobs=[Job("sync", 60, sync_if_due)])
    with time_machine.travel(MONDAY_9AM_NY, tick=False) as traveller:
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE leases RENAME TO leases_away"))  # SQLite: OperationalError
        assert worker.run_once() == {"sync": 0}
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE leases_away RENAME TO leases"))
        assert worker.run_once() == {"sync": 0}  # still backing off
        traveller.shift(timedelta(seconds=2))
        assert worker.run_once() == {"sync": 1}


def test_sigterm_stops_the_worker_mid_batch_and_hands_the_rest_back(
        tmp_path: Path, sendgrid: FakeSendGrid) -> None:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    db = Database(url)
    migrate(db)
    with db.session() as session, session.begin():
        for n in range(200):
            enqueue(session, Email(f"alert:{n}", "alert", "ann@example.com", "New lead", "Call.",
                                   "<p>Call.</p>"), clock.now())
    sendgrid.latency = 0.05
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID"))}
    env.update(OUTREACH_DATABASE_URL=url, OUTREACH_WORKBOOK=str(tmp_path / "none.xlsx"),
               OUTREACH_SECRETS_FILE=str(tmp_path / "none.toml"), SENDGRID_API_KEY="SG.test-key",
               OUTREACH_SENDGRID_HOST=sendgrid.host)
    worker = subprocess.Popen([sys.executable, "-m", "outreach", "worker"], cwd=PROJECT_ROOT, env=env,
                              stderr=subprocess.PIPE, text=True)
    sendgrid.wait_for(10, timeout=20)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=5) == 0, worker.stderr.read() if worker.stderr else ""
    with db.session() as session:
        statuses = Counter(session.scalars(select(OutboxMessage.status)))
    db.dispose()
    assert statuses["sent"] == len(sendgrid.messages) < 200
    assert statuses["claimed"] == statuses["sending"] == 0  # nothing left held: handed back
    assert statuses["pending"] == 200 - statuses["sent"]
