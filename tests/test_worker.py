"""The worker finds its work in the database and only one scheduler acts at a time."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from outreach import lease
from outreach.db import Database
from outreach.models import SyncRun
from outreach.runtime import Runtime
from outreach.worker import LEASE_NAME, Job, Worker, sync_if_due
from tests.conftest import MONDAY_9AM_NY

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
