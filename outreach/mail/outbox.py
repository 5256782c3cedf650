"""The transactional outbox: deciding to send an e-mail, and sending it, are two steps.

1. ``enqueue`` writes the message in the same transaction as the decision (a lead
   saved, a reminder due). Its unique key makes a second decision a no-op.
2. ``deliver_due`` claims due messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   a conditional UPDATE everywhere; status "claimed"), then for each one renews its
   claim (status "sending": the point of no return), sends it and records the
   outcome, each step conditional on the claim's token.

A claim lapses after ``CLAIM_FOR``, so a worker killed mid-send leaves its messages
to the next worker: at-least-once, never lost. A worker whose claim lapsed while
the message waited its turn finds the token changed and leaves it to the new
owner, so a slow batch never sends a message twice. The one duplicate left is a
crash between the provider's 202 and our commit.

Before each send the outbox asks a *gate* (given by the caller, so the outbox knows
nothing of leads or business hours) whether the message may go now: it may be held
until a later time (a reminder waits for its reader's business hours) or cancelled
(every lead it speaks of was reached while it waited).

A newer message may replace an unsent one (:func:`unsent`, :func:`cancel_unsent`) only while
it *waits*: not claimed, claimed but not yet renewed for its send (a worker claims up to 100
at once, and sends a few at a time), or its claim lapsed. Cancelling a claimed one makes its
renewal fail, so it is not sent. One *in flight* ("sending", its claim live) may already be in
the provider's hands, past the renewal that nothing stops, so it goes as written, or comes
back to wait (a retry) where the next decision finds it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from outreach.db import Database, insert_new
from outreach.humanize import clip
from outreach.logs import redact
from outreach.mail.mail_transport import DeliveryError, MailTransport, Sender
from outreach.models import OutboxMessage

log = logging.getLogger(__name__)

# Renewed right before each send, so a claim only has to outlast one send (SendGrid's
# timeout is 10 s) plus SQLite's 15 s busy wait for the commit. It is also how long a
# killed worker's messages wait before another worker picks them up, and how long a
# message counts as in flight (no newer one replaces it) after its sender renewed it.
CLAIM_FOR = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)  # transient failures are retried this long


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Verdict:
    """A gate's answer for one message about to be sent: send it, hold it, or cancel it."""

    hold_until: datetime | None = None
    cancel: bool = False
    reason: str = ""  # shown on the Outbox page


SEND = Verdict()
Gate = Callable[[OutboxMessage, datetime], Verdict]


def _send_everything(message: OutboxMessage, now: datetime) -> Verdict:
    return SEND


@dataclass(frozen=True)
class Email:
    key: str
    kind: str
    to_email: str
    subject: str
    text: str
    html: str
    to_name: str = ""
    cc: tuple[str, ...] = ()
    rep_id: int | None = None
    lead_id: int | None = None
    reply_to: tuple[str, str] | None = None  # (address, name): replies go to a person, not Sender Email
    from_name: str | None = None  # shown on Sender Email instead of Sender Name


def enqueue(session: Session, email: Email, now: datetime) -> bool:
    """Add the message unless one with its key exists; True if this call added it."""
    return enqueue_many(session, [email], now) == 1


def enqueue_many(session: Session, emails: Sequence[Email], now: datetime) -> int:
    """Add, in one statement, each message whose key is new; returns how many were added."""
    if not emails:
        return 0
    table = OutboxMessage.__table__
    rows = [{"key": e.key, "kind": e.kind, "to_email": e.to_email, "to_name": _fit(e.to_name, "to_name"),
             "cc": list(e.cc), "subject": _fit(e.subject, "subject"), "text": e.text, "html": e.html,
             "rep_id": e.rep_id, "lead_id": e.lead_id, "from_name": _fit(e.from_name, "from_name"),
             "reply_to_email": e.reply_to[0] if e.reply_to else None,
             "reply_to_name": _fit(e.reply_to[1], "reply_to_name") if e.reply_to else None,
             "created_at": now, "status": "pending", "attempts": 0,
             "next_attempt_at": now} for e in emails]
    # executemany: SQLAlchemy batches the rows into multi-row INSERTs with a cached statement.
    added = session.execute(insert_new(session, table, ["key"]).returning(table.c.id), rows)
    return len(added.all())


# pending -> claimed (a worker took it with its batch) -> sending (its claim renewed just before the
# provider's request) -> sent | failed; a retry, a hold or a hand-back is pending again.
CLAIMED, SENDING = "claimed", "sending"
UNSENT = ("pending", CLAIMED, SENDING)


def _free(now: datetime):  # type: ignore[no-untyped-def]
    """Not sent, and nobody holds it: never claimed, handed back, or its claim lapsed."""
    return or_(OutboxMessage.status == "pending",
               and_(OutboxMessage.status.in_([CLAIMED, SENDING]), OutboxMessage.claimed_until < now))


def _fit(text: str | None, column: str) -> str | None:
    """A display name or subject cut to its column: a customer's two 150-character names make 301."""
    limit = OutboxMessage.__table__.c[column].type.length
    return text if text is None or limit is None else clip(text, limit)


def _waiting(now: datetime):  # type: ignore[no-untyped-def]
    """Not on its way: free, or claimed but not yet renewed for its send (a newer message may replace it).

    "sending" with a live claim is the only state a message may be in the provider's hands. A row
    left "sending" by a version without "claimed" counts as that until its claim lapses.
    """
    return or_(OutboxMessage.status.in_(["pending", CLAIMED]),
               and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_until < now))


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return and_(_free(now), OutboxMessage.next_attempt_at <= now)


def claim(db: Database, worker: str, now: datetime, limit: int = 100,
          keys: Iterable[str] | None = None) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this worker; nobody else gets them until the claim lapses.

    Each returned message carries its claim token in ``claimed_by``. Until :func:`renew_claim` it is
    only "claimed": a newer message may still replace it.
    """
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    with db.session() as session, session.begin():
        # A new lead's alert goes before a backlog of reminders (after an outage, say).
        alerts_first = case((OutboxMessage.kind == "alert", 0), else_=1)
        due = (select(OutboxMessage.id).where(_claimable(now))
               .order_by(alerts_first, OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
        if keys is not None:
            due = due.where(OutboxMessage.key.in_(list(keys)))
        if db.is_postgresql:
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if not ids:
            return []
        # Re-checked in the UPDATE itself: on SQLite two claimers may have seen the same ids.
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids), _claimable(now))
            .values(status=CLAIMED, claimed_by=token, claimed_until=now + CLAIM_FOR)
            .execution_options(synchronize_session=False)
        )
        return list(session.scalars(
            select(OutboxMessage).where(OutboxMessage.claimed_by == token,
                                        OutboxMessage.status == CLAIMED)
            .order_by(OutboxMessage.id)
        ))


def _ours(message: OutboxMessage, status: str):  # type: ignore[no-untyped-def]
    """Still held with our token, in this state: "claimed" before the renewal, "sending" after it."""
    return and_(OutboxMessage.id == message.id, OutboxMessage.claimed_by == message.claimed_by,
                OutboxMessage.status == status)


def _change(db: Database, condition, **values: object) -> bool:  # type: ignore[no-untyped-def]
    """One conditional UPDATE; True if it changed the row."""
    with db.session() as session, session.begin():
        result = session.execute(update(OutboxMessage).where(condition).values(**values)
                                 .execution_options(synchronize_session=False))
        return result.rowcount == 1


def renew_claim(db: Database, message: OutboxMessage, now: datetime) -> bool:
    """Extend our claim for the send and mark it "sending": from here nothing replaces the message.

    False if another worker took it meanwhile, or a newer message replaced it (cancelled) while it
    was only claimed. Claiming changes the token, so a lapsed claim nobody took yet is still safely ours.
    """
    return _change(db, _ours(message, CLAIMED), status=SENDING, claimed_until=now + CLAIM_FOR)


def release(db: Database, message: OutboxMessage) -> None:
    """Hand an unsent message back at once (a worker shutting down), not after the claim lapses."""
    _change(db, _ours(message, CLAIMED), status="pending", claimed_by=None, claimed_until=None)


def _apply(db: Database, message: OutboxMessage, verdict: Verdict) -> str:
    """Carry out a gate's hold or cancel; the outcome's name, or "lost" if the claim went elsewhere."""
    if verdict.cancel:
        done = _change(db, _ours(message, CLAIMED), status="cancelled", claimed_by=None, claimed_until=None,
                       last_error=verdict.reason)
        return "cancelled" if done else "lost"
    assert verdict.hold_until is not None, "a gate's verdict holds, cancels, or is SEND"
    done = _change(db, _ours(message, CLAIMED), status="pending", claimed_by=None, claimed_until=None,
                   next_attempt_at=verdict.hold_until, last_error=verdict.reason)
    return "held" if done else "lost"


@dataclass(frozen=True)
class Unsent:
    """One reader's messages of one kind that have not gone, as of one moment."""

    waiting: list[str]  # a newer message may replace these (cancel them, say what they said)
    in_flight: list[str]  # being sent: they may be in the provider's hands already


def unsent(session: Session, kind: str, rep_id: int, now: datetime) -> Unsent:
    """This person's messages of one kind that have not gone yet, waiting or in flight.

    One query, so a message is in exactly one of the two lists (a claim taken or handed back
    between two reads could leave it in neither).
    """
    rows = session.execute(select(OutboxMessage.key, _waiting(now)).where(
        OutboxMessage.kind == kind, OutboxMessage.rep_id == rep_id, OutboxMessage.status.in_(UNSENT))
        .order_by(OutboxMessage.id)).all()
    return Unsent([key for key, waiting in rows if waiting], [key for key, waiting in rows if not waiting])


class Overtaken(Exception):
    """A message a newer one was to replace was being sent (or went) after it was read as waiting.

    The newer message would say again what the old one says: the caller rolls its transaction
    back and decides again, and the old message is then in flight, or sent.
    """


def cancel_unsent(session: Session, keys: Iterable[str], reason: str, now: datetime) -> None:
    """Cancel these messages, read as waiting by :func:`unsent`: a newer message replaces them.

    Only while they still wait; one only claimed since is cancelled all the same (its renewal
    fails). One a sender renewed since may be in the provider's hands, and nothing would stop it;
    so if any of them is in flight or sent now, :class:`Overtaken` is raised instead. One
    cancelled or failed meanwhile goes nowhere: fine.
    """
    keys = list(keys)
    if not keys:
        return
    cancelled = set(session.scalars(
        update(OutboxMessage).where(OutboxMessage.key.in_(keys), _waiting(now))
        .values(status="cancelled", last_error=reason).returning(OutboxMessage.key)
        .execution_options(synchronize_session=False)))
    left = [key for key in keys if key not in cancelled]
    if left:
        going = list(session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.key.in_(left), OutboxMessage.status.in_([SENDING, "sent"]))))
        if going:
            raise Overtaken(f"e-mail {', '.join(going)} was being sent while a newer one was decided")


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    held: int = 0  # put back until the gate's time (a reader's business hours)
    lost: int = 0  # claims that lapsed and went to another worker, or replaced, before their turn came
    released: int = 0  # handed back unsent because the worker was stopping
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.cancelled + self.held


@dataclass(frozen=True)
class _Delivery:
    db: Database
    transport: MailTransport
    sender: Sender
    now: Callable[[], datetime]
    keep_going: Callable[[], bool]
    gate: Gate

    def __call__(self, message: OutboxMessage) -> tuple[str, str]:
        """Ask, renew, send, record: one message, start to finish. Returns (outcome, error)."""
        if not self.keep_going():
            release(self.db, message)
            return "released", ""
        # Asked at the moment of sending, not only when the message was queued: a message
        # that waited out a night (a SendGrid outage, a stopped worker) is judged as of now.
        verdict = self.gate(message, self.now())
        if verdict != SEND:
            return _apply(self.db, message, verdict), ""
        # The point of no return: from here the message is "sending", and nothing replaces it.
        if not renew_claim(self.db, message, self.now()):
            return "lost", ""  # another worker holds it, or a newer message replaced it meanwhile
        try:
            provider_id = self.transport.send(message, self.sender)
        except DeliveryError as exc:
            return _record_failure(self.db, message, exc, self.now()), str(exc)
        except Exception as exc:
            error = self._unexpected(message, exc)
            return _record_failure(self.db, message, error, self.now()), str(error)
        _record_sent(self.db, message, provider_id, self.transport.name, self.now())
        return "sent", ""

    def _unexpected(self, message: OutboxMessage, exc: Exception) -> DeliveryError:
        """A transport bug or a failure nobody classified: retried, so one bad message fails alone.

        Left to propagate, it would leave the message "sending" with no attempt counted, to be
        sent again each time the claim lapses, and take the rest of the batch's report with it.
        """
        log.error("e-mail %s: unexpected error from %s", message.key, self.transport.name, exc_info=exc)
        # Shown on the Outbox page: redacted like a log line, in case a library quotes a key.
        first_line = redact((str(exc).strip().splitlines() or [""])[0][:200])
        reason = f"unexpected {type(exc).__name__} from {self.transport.name}"
        return DeliveryError(f"{reason}: {first_line}" if first_line else reason, permanent=False)


def deliver_due(db: Database, transport: MailTransport, sender: Sender, worker: str,
                now: Callable[[], datetime], *, limit: int = 100, threads: int = 4,
                keys: Iterable[str] | None = None,
                keep_going: Callable[[], bool] = _always,
                gate: Gate = _send_everything) -> DeliveryReport:
    """Claim and send what is due; each outcome is committed as soon as it is known.

    ``keep_going`` is asked before each message: once it says no (a shutdown), the rest
    of the batch is handed back unsent. ``gate`` is asked next, and may hold or cancel it.
    """
    report = DeliveryReport()
    paused = transport.paused_until()
    if paused is not None and now() < paused:
        return report  # claiming now would only reschedule each message, one write apiece
    messages = claim(db, worker, now(), limit=limit, keys=keys)
    if not messages:
        return report
    deliver = _Delivery(db, transport, sender, now, keep_going, gate)
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(messages)))) as pool:
        outcomes = list(pool.map(deliver, messages))
    counts = Counter(outcome for outcome, _ in outcomes)
    report.sent, report.retried, report.failed = counts["sent"], counts["retried"], counts["failed"]
    report.cancelled, report.held = counts["cancelled"], counts["held"]
    report.lost, report.released = counts["lost"], counts["released"]
    report.errors = [error for _, error in outcomes if error]
    return report


def _record_sent(db: Database, message: OutboxMessage, provider_id: str, transport_name: str,
                 now: datetime) -> None:
    # A 202 is a fact whoever holds the claim now: recording it even after the claim was
    # lost stops the new holder (its renewal fails) unless it is already mid-send. It even
    # overwrites "cancelled": a newer message replaced this one when its claim lapsed mid-send
    # (a worker stalled for CLAIM_FOR), and the record says what the reader really got.
    recorded = _change(db, and_(OutboxMessage.id == message.id, OutboxMessage.status != "sent"),
                       status="sent", sent_at=now, transport=transport_name,
                       provider_message_id=provider_id, attempts=message.attempts + 1,
                       first_attempt_at=message.first_attempt_at or now,
                       last_error=None, claimed_by=None, claimed_until=None)
    if not recorded:
        log.warning("e-mail %s was sent twice: another worker sent it while this one did", message.key)


def _record_failure(db: Database, message: OutboxMessage, error: DeliveryError, now: datetime) -> str:
    values = _failure(message, error, now)
    if not _change(db, _ours(message, SENDING), claimed_by=None, claimed_until=None, **values):
        return "lost"  # another worker holds it now and will try it itself
    if values["status"] == "failed":
        log.error("e-mail %s failed for good: %s", message.key, error)
        return "failed"
    return "retried"


def _failure(message: OutboxMessage, error: DeliveryError, now: datetime) -> dict[str, object]:
    # A send refused before it left (the transport is waiting out a rate limit) is no attempt.
    attempts = message.attempts + (1 if error.attempted else 0)
    # Counted from the first try, not from queueing: an escalation that waited a weekend for
    # its reader's opening still gets its day of retries.
    first = message.first_attempt_at or (now if error.attempted else None)
    if error.permanent or (first is not None and now - first > GIVE_UP_AFTER):
        return {"status": "failed", "attempts": attempts, "last_error": str(error), "first_attempt_at": first}
    backoff = error.retry_after or min(30 * 2 ** (attempts - 1), 1800)
    return {"status": "pending", "attempts": attempts, "last_error": str(error), "first_attempt_at": first,
            "next_attempt_at": now + timedelta(seconds=backoff)}


def recent_messages(session: Session, *, limit: int = 200, rep_id: int | None = None,
                    kinds: Iterable[str] | None = None,
                    statuses: Iterable[str] | None = None) -> list[OutboxMessage]:
    """Newest first; ``rep_id`` limits to what was sent to one person."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if rep_id is not None:
        query = query.where(OutboxMessage.rep_id == rep_id)
    if kinds:
        query = query.where(OutboxMessage.kind.in_(list(kinds)))
    if statuses:
        query = query.where(OutboxMessage.status.in_(list(statuses)))
    return list(session.scalars(query))
