"""The background worker: syncs the sheet and sends what is due, for ever.

The ``schedule`` library is only the ticker. What is due is always decided
from the database (last sync time, due reminders, unsent messages), so a worker
that was down catches up when it returns, and ``--once`` (for cron) does the
same work as a tick. A lease in the database lets exactly one worker act at a
time; the others idle until it goes away.

Each job is a small function ``(runtime, now) -> units of work done``. One
failing job is logged and does not stop the others or the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import schedule
from sqlalchemy import select

from outreach import clock, lease
from outreach.call_list import enqueue_due_call_lists
from outreach.followup import send_due_escalations, send_due_reminders
from outreach.models import SyncRun
from outreach.outbox import deliver_due
from outreach.planner import build_due_plans
from outreach.runtime import Runtime, sender, team_settings
from outreach.sync import run_sync

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[[Runtime, datetime], int]


def sync_if_due(runtime: Runtime, now: datetime) -> int:
    """Sync when the last attempt is older than the sync interval."""
    with runtime.db.session() as session:
        last = session.scalar(select(SyncRun.started_at).order_by(SyncRun.id.desc()).limit(1))
    if last is not None and now - last < timedelta(seconds=runtime.settings.sync_interval):
        return 0
    result = run_sync(runtime.db, runtime.source(), now)
    if not result.ok:
        log.warning("sync from %s failed: %s", result.source, result.error)
    return 1 if result.ok else 0


def plan_the_day(runtime: Runtime, now: datetime) -> int:
    """Build the plans whose morning has come, then queue the call lists that are due."""
    with runtime.db.session() as session, session.begin():
        team = team_settings(session)
        planned = build_due_plans(session, now, team)
        queued = enqueue_due_call_lists(session, now, team)
    return planned + queued


def nag(runtime: Runtime, now: datetime) -> int:
    """Queue the reminders and escalations that are due (the outbox sends them)."""
    with runtime.db.session() as session, session.begin():
        team = team_settings(session)
        return send_due_reminders(session, now, team) + send_due_escalations(session, now, team)


def deliver_mail(runtime: Runtime, now: datetime) -> int:
    """Send what the outbox holds, until nothing is due (each batch is committed as it goes)."""
    with runtime.db.session() as session:
        from_ = sender(team_settings(session))
    sent = 0
    while True:
        report = deliver_due(runtime.db, runtime.transport(), from_, WORKER_ID, clock.now)
        sent += report.handled
        if report.handled == 0:
            return sent


WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def deliver_now(runtime: Runtime, keys: list[str]) -> None:
    """Send these messages right away (a fresh lead's alert), without waiting for a tick.

    Safe next to a running worker: both claim per message, so it goes out once.
    """
    if not keys:
        return
    with runtime.db.session() as session:
        from_ = sender(team_settings(session))
    try:
        deliver_due(runtime.db, runtime.transport(), from_, WORKER_ID, clock.now, keys=keys)
    except Exception:  # the worker's next tick sends it instead
        log.exception("immediate delivery of %s failed; the worker will retry", keys)


def default_jobs(runtime: Runtime) -> list[Job]:
    # Order matters for --once: read the sheet (new inbound leads get their alert queued),
    # plan, nag, then send everything that produced in the same run.
    return [Job("sync", min(runtime.settings.sync_interval, 60), sync_if_due),
            Job("plans", 15, plan_the_day),
            Job("nag", 15, nag),
            Job("mail", 5, deliver_mail)]


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        jobs: list[Job] | None = None,
        holder: str | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.runtime = runtime
        self.jobs = jobs if jobs is not None else default_jobs(runtime)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.now = now

    def holds_lease(self, now: datetime) -> bool:
        with self.runtime.db.session() as session, session.begin():
            return lease.acquire(session, LEASE_NAME, self.holder, now, LEASE_TTL)

    def run_job(self, job: Job) -> int:
        now = self.now()
        if not self.holds_lease(now):
            return 0
        try:
            return job.run(self.runtime, now)
        except Exception:
            log.exception("worker job %s failed; the next tick tries again", job.name)
            return 0

    def run_once(self) -> dict[str, int]:
        """Run every job that is due now (the `--once` mode, and the first tick)."""
        return {job.name: self.run_job(job) for job in self.jobs}

    def run_forever(self, stop: threading.Event) -> None:
        ticker = schedule.Scheduler()
        for job in self.jobs:
            ticker.every(job.every_seconds).seconds.do(self.run_job, job)
        ticker.every(int(LEASE_TTL.total_seconds() // 3)).seconds.do(self.holds_lease_now)
        log.info("worker %s started (%d jobs)", self.holder, len(self.jobs))
        self.run_once()
        while not stop.is_set():
            ticker.run_pending()
            stop.wait(1)
        with self.runtime.db.session() as session, session.begin():
            lease.release(session, LEASE_NAME, self.holder)
        log.info("worker %s stopped", self.holder)

    def holds_lease_now(self) -> bool:
        return self.holds_lease(self.now())
