"""The background worker: syncs the sheet and sends what is due, for ever.

The ``schedule`` library is only the ticker. What is due is always decided
from the database (last sync time, due reminders, unsent messages), so a worker
that was down catches up when it returns, and ``--once`` (for cron) does the
same work as a tick.

A lease in the database lets exactly one worker run the scheduler's jobs (sync,
plans, nagging) at a time; the others leave those to it. A heartbeat thread
renews the lease while a long job runs, and stops renewing a job that looks
hung, so a stuck worker cannot keep the others out for ever. Sending mail needs
no lease: every message is claimed on its own, so every worker (and the app's
"send this alert now") may send at once.

Each job is a small function ``(runtime, now) -> units of work done``. One
failing job is logged and does not stop the others or the loop; when the
database itself is unreachable the worker backs off and tries again later.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import schedule
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from outreach import clock, lease
from outreach.calls.call_list import enqueue_due_call_lists
from outreach.calls.planner import build_due_plans
from outreach.db import database_reason
from outreach.leads.nagging import NagGate, due_owners, remind, send_due_escalations
from outreach.mail.outbox import Overtaken, deliver_due
from outreach.models import SyncRun
from outreach.runtime import Runtime, sender, team_settings
from outreach.sheet.inbound_poll import InboundPoll
from outreach.sheet.sync import sync_now

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)
# A job running longer than this is presumed hung: the heartbeat lets its lease expire.
HUNG_JOB = timedelta(minutes=15)
DATABASE_BACKOFF_MAX = timedelta(seconds=60)
OVERTAKEN_TRIES = 3  # a nagging step overtaken this often in a row (by the sending) waits for the next tick

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# The database is down or unreachable (not a bug in a query): back off and retry.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


T = TypeVar("T")


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[..., int]
    needs_lease: bool = True  # False: safe in every worker at once (it claims its own work)
    stoppable: bool = False  # takes ``keep_going`` and stops between items when it says no


def scheduler_alive(heartbeat_at: datetime | None, now: datetime) -> bool:
    """Is some worker acting as the scheduler? It renews the lease every third of LEASE_TTL.

    Silent for a whole TTL plus half a minute of slack (three beats missed) means none is.
    """
    return heartbeat_at is not None and now - heartbeat_at <= LEASE_TTL + timedelta(seconds=30)


def sync_if_due(runtime: Runtime, now: datetime) -> int:
    """Sync when the last attempt is older than the sync interval."""
    with runtime.db.session() as session:
        last = session.scalar(select(SyncRun.started_at).order_by(SyncRun.id.desc()).limit(1))
    if last is not None and now - last < timedelta(seconds=runtime.settings.sync_interval):
        return 0
    result = sync_now(runtime.db, runtime.source, now)
    if not result.ok and not result.busy:  # busy: another process is syncing, nothing failed
        log.warning("sync from %s failed: %s", result.source, result.error)
    return 1 if result.ok else 0


def inbound_job(poll: InboundPoll) -> Callable[[Runtime, datetime], int]:
    """Read the Inbound tab alone and send the new leads' alerts at once (not at the next mail tick)."""
    def poll_inbound(runtime: Runtime, now: datetime) -> int:
        keys = poll(runtime.db, runtime.source(), now)
        deliver_now(runtime, keys)
        return len(keys)
    return poll_inbound


def plan_the_day(runtime: Runtime, now: datetime) -> int:
    """Build the plans whose morning has come, then queue the call lists that are due."""
    with runtime.db.session() as session, session.begin():
        team = team_settings(session)
        planned = build_due_plans(session, now, team)
        queued = enqueue_due_call_lists(session, now, team)
    return planned + queued


def nag(runtime: Runtime, now: datetime, keep_going: Callable[[], bool] = _always) -> int:
    """Queue the reminders and escalations that are due (the outbox sends them). Returns e-mails.

    Reminders go a slice of people per transaction, each person's leads in one e-mail, so
    a backlog (a worker down for a day) is queued in one run without one huge transaction.
    """
    queued = 0
    passed: set[int] = set()  # people with due leads in a reminder being sent: those wait for a later tick
    while keep_going():
        done = _decided(runtime, lambda session: remind(session, due_owners(session, now, skip=passed), now,
                                                        team_settings(session)))
        if done is None:
            break
        queued += done.emails
        if not done.leads and done.passed <= passed:
            break  # nobody left, or what is left is locked by another worker
        passed.update(done.passed)  # still first in line: the next slice goes past them
    escalations = _decided(runtime, lambda session: send_due_escalations(session, now,
                                                                          team_settings(session)))
    return queued + (escalations or 0)


def _decided(runtime: Runtime, decide: Callable[[Session], T]) -> T | None:
    """One nagging step in one transaction, taken again if a sender began sending an e-mail it replaces.

    The second time that e-mail is in flight or sent, so the step leaves it be. None: overtaken
    each time, the step (for reminders, the rest of the run's slices) left to the next tick.
    """
    for _ in range(OVERTAKEN_TRIES):
        try:
            with runtime.db.session() as session, session.begin():
                return decide(session)
        except Overtaken as exc:
            log.info("%s: deciding again", exc)
    return None


def deliver_mail(runtime: Runtime, now: datetime, keep_going: Callable[[], bool] = _always) -> int:
    """Send what the outbox holds until nothing is due or ``keep_going`` says stop.

    Each message's outcome is committed as it goes, so stopping loses nothing.
    """
    with runtime.db.session() as session:
        team = team_settings(session)
    handled = 0
    while keep_going():
        report = deliver_due(runtime.db, runtime.transport(), sender(team), WORKER_ID, clock.now,
                             keep_going=keep_going, gate=NagGate(runtime.db, team))
        handled += report.handled
        if report.handled == 0:
            break
    return handled


def deliver_now(runtime: Runtime, keys: list[str]) -> None:
    """Send these messages right away (a fresh lead's alert), without waiting for a tick.

    Safe next to a running worker: both claim per message, so it goes out once.
    """
    if not keys:
        return
    try:
        with runtime.db.session() as session:
            team = team_settings(session)
        deliver_due(runtime.db, runtime.transport(), sender(team), WORKER_ID, clock.now, keys=keys,
                    gate=NagGate(runtime.db, team))
    except Exception:  # the worker's next tick sends it instead
        log.exception("immediate delivery of %s failed; the worker will retry", keys)


def default_jobs(runtime: Runtime) -> list[Job]:
    # Order matters for --once: read the sheet (new inbound leads get their alert queued),
    # plan, nag, then send everything that produced in the same run.
    # The sync check is one cheap query: ticking every 5 s keeps syncs sync_interval apart,
    # start to start, so an Inbound row waits at most about that long (plus the sync itself).
    # The Inbound tab alone, more often: a web form's row is a lead within seconds, not a minute.
    inbound = runtime.settings.inbound_interval
    return [Job("sync", 5, sync_if_due),
            *([Job("inbound", inbound, inbound_job(InboundPoll()))] if inbound else []),
            Job("plans", 15, plan_the_day),
            Job("nag", 15, nag, stoppable=True),
            Job("mail", 5, deliver_mail, needs_lease=False, stoppable=True)]


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        jobs: list[Job] | None = None,
        holder: str | None = None,
        now: Callable[[], datetime] = clock.now,
        lease_ttl: timedelta = LEASE_TTL,
    ) -> None:
        self.runtime = runtime
        self.jobs = jobs if jobs is not None else default_jobs(runtime)
        self.holder = holder or f"{WORKER_ID}:{uuid.uuid4().hex[:8]}"
        self.now = now
        self.lease_ttl = lease_ttl
        self.stop = threading.Event()
        self._lease_until: datetime | None = None
        self._busy_since: datetime | None = None
        self._database_failures = 0
        self._database_retry_at: datetime | None = None

    # -- the lease -----------------------------------------------------------------------------

    def holds_lease(self, now: datetime) -> bool:
        """Take or renew the scheduler lease; raises the database's error if it cannot ask."""
        with self.runtime.db.session() as session, session.begin():
            held = lease.acquire(session, LEASE_NAME, self.holder, now, self.lease_ttl)
        self._lease_until = now + self.lease_ttl if held else None
        return held

    def in_charge(self) -> bool:
        """True while the lease we last took still covers now, with a margin for one more step."""
        until = self._lease_until
        return (not self.stop.is_set() and until is not None
                and self.now() < until - self.lease_ttl / 4)

    def running(self) -> bool:
        return not self.stop.is_set()

    def _beat(self, done: threading.Event) -> None:
        while not done.wait(self.lease_ttl.total_seconds() / 3):
            if self._lease_until is None:
                continue  # not ours: the next tick asks for it
            now = self.now()
            if self._busy_since is not None and now - self._busy_since > HUNG_JOB:
                log.error("a worker job has run since %s; no longer renewing the lease so another "
                          "worker can take over", self._busy_since)
                continue
            try:
                self.holds_lease(now)
            except DATABASE_DOWN as exc:
                self._database_trouble(exc)

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """Renew the lease from a thread of its own, so a job longer than the lease keeps it."""
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(done,), name="outreach-lease", daemon=True)
        beat.start()
        try:
            yield
        finally:
            done.set()
            beat.join()

    def _release_lease(self) -> None:
        try:
            with self.runtime.db.session() as session, session.begin():
                lease.release(session, LEASE_NAME, self.holder)
        except DATABASE_DOWN as exc:  # it expires by itself
            log.warning("could not release the scheduler lease: %s", database_reason(exc))
        self._lease_until = None

    # -- database trouble ----------------------------------------------------------------------

    def _database_trouble(self, exc: SQLAlchemyError) -> None:
        self._database_failures += 1
        wait = min(timedelta(seconds=2 ** min(self._database_failures - 1, 6)), DATABASE_BACKOFF_MAX)
        self._database_retry_at = self.now() + wait
        log.warning("the database is unavailable (%s); the worker tries again in %d s",
                    database_reason(exc), wait.total_seconds())

    def _backing_off(self, now: datetime) -> bool:
        return self._database_retry_at is not None and now < self._database_retry_at

    # -- running jobs --------------------------------------------------------------------------

    def run_job(self, job: Job) -> int:
        now = self.now()
        if self.stop.is_set() or self._backing_off(now):
            return 0
        try:
            if job.needs_lease and not self.holds_lease(now):
                return 0
            done = self._run(job, now)
        except DATABASE_DOWN as exc:
            self._database_trouble(exc)
            return 0
        except Exception:
            log.exception("worker job %s failed; the next tick tries again", job.name)
            return 0
        self._database_failures = 0
        return done

    def _run(self, job: Job, now: datetime) -> int:
        self._busy_since = now
        try:
            if not job.stoppable:
                return int(job.run(self.runtime, now))
            keep_going = self.in_charge if job.needs_lease else self.running
            return int(job.run(self.runtime, now, keep_going))
        finally:
            self._busy_since = None

    def _run_all(self) -> dict[str, int]:
        return {job.name: self.run_job(job) for job in self.jobs}

    def run_once(self) -> dict[str, int]:
        """Run every job that is due now (the `--once` mode, and the first tick)."""
        with self._heartbeat():
            return self._run_all()

    def run_forever(self, stop: threading.Event) -> None:
        self.stop = stop
        ticker = schedule.Scheduler()
        for job in self.jobs:
            ticker.every(job.every_seconds).seconds.do(self.run_job, job)
        log.info("worker %s started (%d jobs)", self.holder, len(self.jobs))
        with self._heartbeat():
            self._run_all()
            while not stop.is_set():
                ticker.run_pending()
                stop.wait(1)
        self._release_lease()
        log.info("worker %s stopped", self.holder)
