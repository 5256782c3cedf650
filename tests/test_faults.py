"""Fault tests on PostgreSQL: real `python -m outreach worker` processes against one fake SendGrid.

Two workers share one outbox while the test SIGKILLs one of them at random moments (and starts
it again), and SendGrid answers 500s for a while, a 429 with a reset, and a hang. At the end every
message must be `sent` and accepted by the fake (none lost); a message accepted twice must be one
a killed worker had handed to SendGrid and not yet recorded (the 202-to-commit window).

A killed worker's claims lapse after the outbox's claim time (a minute); rather than wait, the test
ages the claims of the process it has just killed and reaped, which is what the minute would do.

The last test has the workers nag as well: a team whose leads fall due every few seconds, so
each run combines a rep's leads into one e-mail while workers die mid-nag and mid-send. It
counts per lead: every reminder decided must reach the rep (in its e-mail or a later one
that lists the lead again), and a lead's reminder is doubled only by the 202-to-commit window.

PostgreSQL only (the `postgres_url` fixture fails instead of skipping when CI=true).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select, update

from outreach import clock
from outreach.db import Database, migrate
from outreach.mail.outbox import Email, enqueue
from outreach.models import Lead, Lease, NagItem, OutboxMessage, TeamSetting
from outreach.settings import PROJECT_ROOT
from tests.factories import add_lead, add_rep
from tests.fakes.sendgrid_server import FakeSendGrid

pytestmark = pytest.mark.slow

THREADS = 4  # deliver_due's default: how many messages one worker has in flight at once
# A request the killed worker had already written can still be read, and accepted, by the fake
# after the kill; on a loaded machine its server thread may take a while to get to it.
IN_FLIGHT = 2.0


def doubled_by(kill: float, accepted: list[float]) -> bool:
    """Could this kill explain a message accepted at these times? Its first copy went out by then."""
    return accepted[0] < kill + IN_FLIGHT and kill < accepted[-1]


def email(n: int) -> Email:
    return Email(key=f"alert:fault:{n}", kind="alert", to_email=f"rep{n % 7}@example.com",
                 subject=f"New lead {n}", text="Call them now.", html="<p>Call them now.</p>")


def add_messages(db: Database, numbers: range) -> None:
    with db.session() as session, session.begin():
        for n in numbers:
            enqueue(session, email(n), clock.now())


@dataclass
class WorkerProcess:
    """One `python -m outreach worker` in its own process, restartable after a kill."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    pids: list[int] = field(default_factory=list)
    clock_shift: float | None = None  # seconds: run on the real clock moved by this (tests/at.py)

    def start(self) -> None:
        command = [sys.executable, "-m", "outreach", "worker"]
        if self.clock_shift is not None:
            command = [sys.executable, "tests/at.py", f"{self.clock_shift:+.3f}", "outreach", "worker"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                            stderr=log)
        self.pids.append(self.process.pid)

    def kill(self) -> int:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        return self.process.pid

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)


@pytest.fixture
def fault_db(postgres_url: str) -> Iterator[tuple[str, Database]]:
    db = Database(postgres_url)
    migrate(db)
    yield postgres_url, db
    db.dispose()


@pytest.fixture
def workers(fault_db: tuple[str, Database], sendgrid: FakeSendGrid,
            tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    url, _ = fault_db
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID"))}
    env.update(OUTREACH_DATABASE_URL=url, OUTREACH_WORKBOOK=str(tmp_path / "no-workbook.xlsx"),
               OUTREACH_SECRETS_FILE=str(tmp_path / "no-secrets.toml"), OUTREACH_LOG_LEVEL="ERROR",
               SENDGRID_API_KEY=sendgrid.api_key, OUTREACH_SENDGRID_HOST=sendgrid.host)
    pair = [WorkerProcess(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    yield pair
    for worker in pair:
        if worker.process is not None and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


def claim_prefix(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:"  # outbox claim tokens start with the worker's host:pid


HELD = ["claimed", "sending"]  # a worker holds it: taken with its batch, or being sent


def claims_of(db: Database, pid: int) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(HELD),
            OutboxMessage.claimed_by.startswith(claim_prefix(pid)))) or 0


def age_claims_of(db: Database, pid: int) -> None:
    """What the claim's minute would do to a dead worker's messages, without the wait."""
    with db.session() as session, session.begin():
        session.execute(update(OutboxMessage)
                        .where(OutboxMessage.status.in_(HELD),
                               OutboxMessage.claimed_by.startswith(claim_prefix(pid)))
                        .values(claimed_until=clock.now() - timedelta(seconds=1)))


def pick_victim(db: Database, workers: list[WorkerProcess], rng: random.Random) -> WorkerProcess:
    """A worker with messages in hand if there is one within a second (so the kill is mid-batch)."""
    for _ in range(20):
        busy = [w for w in workers if claims_of(db, w.pids[-1])]
        if busy:
            return rng.choice(busy)
        time.sleep(0.05)
    return rng.choice(workers)


def unsent(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.status != "sent")) or 0


def wait_until_all_sent(db: Database, deadline: float, workers: list[WorkerProcess]) -> None:
    while unsent(db) and time.monotonic() < deadline:
        time.sleep(0.2)
    logs = "\n".join(w.log.read_text(errors="replace")[-2000:] for w in workers if w.log.exists())
    assert unsent(db) == 0, f"{unsent(db)} messages never went out; worker logs:\n{logs}"


@dataclass(frozen=True)
class Tally:
    messages: int
    lost: int
    duplicates: int
    duplicated_keys: dict[str, list[float]]


def tally(db: Database, fake: FakeSendGrid) -> Tally:
    """Lost: not `sent`, or never accepted by SendGrid. Duplicates: accepted more than once."""
    accepted: dict[str, list[float]] = defaultdict(list)
    for body, at in zip(fake.messages, fake.accepted_at, strict=True):
        accepted[body["personalizations"][0]["custom_args"]["outreach_key"]].append(at)
    with db.session() as session:
        statuses = dict(session.execute(select(OutboxMessage.key, OutboxMessage.status)).all())
    lost = sum(1 for key, status in statuses.items() if status != "sent" or key not in accepted)
    twice = {key: times for key, times in accepted.items() if len(times) > 1}
    return Tally(len(statuses), lost, sum(len(t) - 1 for t in twice.values()), twice)


def test_two_workers_at_once_send_every_message_exactly_once(
        fault_db: tuple[str, Database], sendgrid: FakeSendGrid, workers: list[WorkerProcess]) -> None:
    _, db = fault_db
    add_messages(db, range(600))
    sendgrid.latency = 0.01
    for worker in workers:
        worker.start()
    both_sending = False
    deadline = time.monotonic() + 30
    while unsent(db) and time.monotonic() < deadline:
        both_sending = both_sending or all(claims_of(db, w.pids[-1]) for w in workers)
        time.sleep(0.05)
    wait_until_all_sent(db, deadline, workers)
    assert [w.terminate() for w in workers] == [0, 0]
    result = tally(db, sendgrid)
    print(f"\ntwo workers: {result.messages} messages, lost {result.lost}, duplicates {result.duplicates}")
    assert both_sending, "the two workers never sent at the same time"
    assert (result.messages, result.lost, result.duplicates) == (600, 0, 0)


def test_kills_and_a_failing_sendgrid_lose_nothing(
        fault_db: tuple[str, Database], sendgrid: FakeSendGrid, workers: list[WorkerProcess],
        record_property: pytest.RecordProperty) -> None:
    """Two workers, 15 SIGKILLs at random moments, 500s, a 429 and a hang: nothing lost."""
    _, db = fault_db
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    sendgrid.latency = 0.04  # SendGrid's answer takes a while: kills land between 202 and commit
    produced = 400
    add_messages(db, range(produced))
    for worker in workers:
        worker.start()
    sendgrid.wait_for(50, timeout=15)

    sendgrid.set_default(500)  # SendGrid fails for a while: those messages retry 30 s later
    sendgrid.wait_for_requests(len(sendgrid.requests) + 30)
    sendgrid.set_default(202)
    sendgrid.respond_next(429, reset_in=2)
    sendgrid.respond_next("hang")

    kills: list[float] = []
    mid_batch = 0
    while len(kills) < 15:
        time.sleep(rng.uniform(0.2, 1.0))
        add_messages(db, range(produced, produced + 150))  # the app keeps producing
        produced += 150
        victim = pick_victim(db, workers, rng)
        kills.append(time.monotonic())  # the moment the signal goes
        pid = victim.kill()
        mid_batch += claims_of(db, pid) > 0
        age_claims_of(db, pid)
        victim.start()

    sendgrid.release_hangs()
    wait_until_all_sent(db, time.monotonic() + 45, workers)
    assert [w.terminate() for w in workers] == [0, 0]
    result = tally(db, sendgrid)
    figures = {"seed": seed, "messages": result.messages, "kills": len(kills), "kills_mid_batch": mid_batch,
               "lost": result.lost, "duplicates": result.duplicates, "requests": len(sendgrid.requests),
               "accepted": len(sendgrid.messages)}
    print(f"\nfault storm: {figures}")
    for name, value in figures.items():
        record_property(name, value)

    assert result.messages == produced and result.lost == 0
    assert sendgrid.contract_violations == []
    # Each kill can double at most the messages that worker had in flight.
    assert result.duplicates <= len(kills) * THREADS
    for key, times in result.duplicated_keys.items():
        assert any(doubled_by(kill, times) for kill in kills), (
            f"{key} was sent twice with no crash in between")
    with db.session() as session:
        assert Counter(session.scalars(select(OutboxMessage.status))) == {"sent": produced}


# -- workers that nag: combined reminders through kills ---------------------------------------

# Business is open for the nagging workers: a Monday 10:00 in New York. They and this test run
# on the real clock moved by one offset, so a worker restarted after a kill shares the time.
MONDAY_10AM_NY = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
REPS, LEADS_EACH = 40, 5


@pytest.fixture
def monday_clock() -> Iterator[float]:
    shift = (MONDAY_10AM_NY - datetime.now(UTC)).total_seconds()
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=shift), tick=True):
        yield shift


def busy_team(db: Database, now: datetime) -> None:
    """Leads whose reminders fall due every six seconds for a minute, so workers nag all the time."""
    with db.session() as session, session.begin():
        session.add_all([
            TeamSetting(key="Reminder Schedule", value=", ".join(f"{n / 10:g}m" for n in range(1, 11))),
            TeamSetting(key="Reminder Batch Window", value="0.05m"),
            TeamSetting(key="CC Manager After", value="0.5m")])
        boss = add_rep(session, "boss@example.com", role="manager", name="Bo Boss")
        for r in range(REPS):
            rep = add_rep(session, f"rep{r}@example.com", manager=boss.email, name=f"Rep {r}")
            for n in range(LEADS_EACH):
                created = now - timedelta(seconds=(r + n) % 7)
                add_lead(session, rep, f"Lead{r}x{n} Waiting", created_at=created,
                         next_reminder_at=created + timedelta(seconds=6))


def age_lease_of(db: Database, pid: int) -> None:
    """What the lease's expiry would do for a dead scheduler, without the minute's wait."""
    with db.session() as session, session.begin():
        session.execute(update(Lease).where(Lease.holder.startswith(claim_prefix(pid)))
                        .values(expires_at=clock.now() - timedelta(seconds=1)))


def nagging_done(db: Database) -> bool:
    """Every lead is past its quick reminders (next: tomorrow's opening) and nothing is unsent."""
    with db.session() as session:
        soon = session.scalar(select(func.count()).select_from(Lead).where(
            Lead.next_reminder_at < clock.now() + timedelta(hours=1))) or 0
        waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(["pending", *HELD]))) or 0
    return soon == 0 and waiting == 0


@dataclass(frozen=True)
class LeadTally:
    reminders: int  # (lead, reminder number) pairs decided
    emails: int  # reminder e-mails accepted by SendGrid
    lost: int  # reminders that no accepted e-mail carried, then or later
    duplicates: int  # extra acceptances of one lead's same reminder
    doubled_at: dict[tuple[int, int], list[float]]


def lead_tally(db: Database, fake: FakeSendGrid) -> LeadTally:
    accepted: dict[str, list[float]] = defaultdict(list)
    for body, at in zip(fake.messages, fake.accepted_at, strict=True):
        if body["categories"] == ["reminder"]:
            accepted[body["personalizations"][0]["custom_args"]["outreach_key"]].append(at)
    with db.session() as session:
        items = session.execute(select(NagItem.lead_id, NagItem.number, NagItem.outbox_key)
                                .where(NagItem.kind == "reminder")).all()
    decided: dict[int, set[int]] = defaultdict(set)
    reached: dict[int, int] = defaultdict(int)  # the highest reminder number a rep received
    times: dict[tuple[int, int], list[float]] = defaultdict(list)
    for lead_id, number, key in items:
        decided[lead_id].add(number)
        if accepted.get(key):
            reached[lead_id] = max(reached[lead_id], number)
            times[(lead_id, number)] += accepted[key]
    lost = sum(1 for lead_id, numbers in decided.items() for n in numbers if reached[lead_id] < n)
    doubled = {pair: sorted(at) for pair, at in times.items() if len(at) > 1}
    return LeadTally(sum(len(n) for n in decided.values()), sum(len(a) for a in accepted.values()), lost,
                     sum(len(at) - 1 for at in doubled.values()), doubled)


def test_combined_reminders_survive_kills_mid_nag_and_mid_send(
        fault_db: tuple[str, Database], sendgrid: FakeSendGrid, workers: list[WorkerProcess],
        monday_clock: float, record_property: pytest.RecordProperty) -> None:
    _, db = fault_db
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    sendgrid.latency = 0.04
    busy_team(db, clock.now())
    for worker in workers:
        worker.clock_shift = monday_clock
        worker.start()
    sendgrid.wait_for(REPS, timeout=30)  # the first run: one e-mail per rep
    kills: list[float] = []
    while len(kills) < 12:
        time.sleep(rng.uniform(0.3, 2.0))
        victim = pick_victim(db, workers, rng)
        kills.append(time.monotonic())  # the moment the signal goes
        pid = victim.kill()
        age_claims_of(db, pid)
        age_lease_of(db, pid)
        victim.start()
    deadline = time.monotonic() + 120
    while not nagging_done(db) and time.monotonic() < deadline:
        time.sleep(0.5)
    logs = "\n".join(w.log.read_text(errors="replace")[-2000:] for w in workers if w.log.exists())
    assert nagging_done(db), f"the nagging never finished; worker logs:\n{logs}"
    assert [w.terminate() for w in workers] == [0, 0]
    result = lead_tally(db, sendgrid)
    figures = {"seed": seed, "leads": REPS * LEADS_EACH, "reminders_decided": result.reminders,
               "reminder_emails": result.emails, "kills": len(kills), "lost": result.lost,
               "duplicates": result.duplicates, "leads_doubled": len({p[0] for p in result.doubled_at})}
    print(f"\ncombined reminders through kills: {figures}")
    for name, value in figures.items():
        record_property(name, value)

    assert result.lost == 0
    assert sendgrid.contract_violations == []
    assert result.emails < result.reminders / 2  # several leads per e-mail
    # Each kill can double at most the e-mails that worker had in flight.
    assert result.duplicates <= len(kills) * THREADS * LEADS_EACH
    for pair, times in result.doubled_at.items():
        assert any(doubled_by(kill, times) for kill in kills), (
            f"lead {pair[0]}'s reminder {pair[1]} was sent twice with no crash in between")
